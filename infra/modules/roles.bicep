// Least-privilege role assignments. Every assignment has a deterministic name,
// guid(scope, principal, role), so redeploying never duplicates it.

param storageAccountName string
param tableName string
param applicationInsightsName string

@description('Principal (object) id of the function app\'s user-assigned identity.')
param appPrincipalId string

@description('Optional principal (object) id of a job runner that writes job state.')
param jobRunnerPrincipalId string = ''

@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param jobRunnerPrincipalType string = 'ServicePrincipal'

// Built-in role definition ids, checked against Microsoft's generated lists
// (learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
// and .../built-in-roles/monitor; sources in docs/deploy.md#sources).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' existing = {
  parent: account
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-01-01' existing = {
  parent: tableService
  name: tableName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The Functions host keeps its locks, keys and the deployment package in blobs
// and creates its own containers: Microsoft's documented minimum for a host
// without extensions. No queue or table role: an HTTP-only app uses neither,
// and a table role on the account would let the app write job state.
resource hostBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, roleIds.storageBlobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The endpoint only reads job state, and only from this one table.
resource appReadsJobState 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(table.id, appPrincipalId, roleIds.storageTableDataReader)
  scope: table
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights refuses keys (DisableLocalAuth), so the host sends
// telemetry with the identity's token.
resource appSendsTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Optional: the job runner writes the rows the endpoint reads.
resource runnerWritesJobState 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(jobRunnerPrincipalId)) {
  name: guid(table.id, jobRunnerPrincipalId, roleIds.storageTableDataContributor)
  scope: table
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: jobRunnerPrincipalId
    principalType: jobRunnerPrincipalType
  }
}
