// Least-privilege role assignments, each on the narrowest scope that works:
// one table, one queue, one Key Vault secret, the Application Insights
// resource; only the Functions host's blob role is on the account. Every assignment has a
// deterministic name, guid(scope, principal, role), so redeploying never
// duplicates it. The principal in the name is the identity's resource id,
// known when the deployment starts (a principal id is not, and What-If could
// not predict the assignments; see docs/decisions.md).

param storageAccountName string
param jobStateTableName string
param itemsTableName string
param jobQueueName string
param poisonQueueName string
param applicationInsightsName string
param keyVaultName string
param currentKeySecretName string
param previousKeySecretName string

@description('Resource id of the function app\'s user-assigned identity: names its assignments.')
param appIdentityId string

@description('Principal (object) id of that identity: the principal of its assignments.')
param appPrincipalId string

@description('Optional principal (object) id of a job runner outside the app that writes job state.')
param jobRunnerPrincipalId string = ''

@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param jobRunnerPrincipalType string = 'ServicePrincipal'

// Built-in role definition ids, checked against Microsoft's generated lists
// (learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage,
// .../built-in-roles/monitor and .../built-in-roles/security; sources in
// docs/deploy.md#sources).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageQueueDataReader: '19e7f393-937e-4f77-808e-94535e297925'
  storageQueueDataMessageProcessor: '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  storageQueueDataMessageSender: 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Data actions secrets/getSecret/action and secrets/readMetadata/action only.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource account 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-09-01' existing = {
  parent: account
  name: 'default'
}

resource jobStateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' existing = {
  parent: tableService
  name: jobStateTableName
}

resource itemsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' existing = {
  parent: tableService
  name: itemsTableName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-09-01' existing = {
  parent: account
  name: 'default'
}

resource jobQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' existing = {
  parent: queueService
  name: jobQueueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' existing = {
  parent: queueService
  name: poisonQueueName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' existing = {
  name: keyVaultName
}

resource currentKey 'Microsoft.KeyVault/vaults/secrets@2026-05-15' existing = {
  parent: vault
  name: currentKeySecretName
}

resource previousKey 'Microsoft.KeyVault/vaults/secrets@2026-05-15' existing = {
  parent: vault
  name: previousKeySecretName
}

// The Functions host keeps its locks, keys and the deployment package in blobs
// and creates its own containers: Microsoft's documented minimum for the host.
// Blob roles give no table or queue access.
resource hostBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appIdentityId, roleIds.storageBlobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Create, Cancel and the runner write job rows; the item lifecycle writes item
// rows. Each role is on its own table, never on the table service or account.
resource appWritesJobState 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobStateTable.id, appIdentityId, roleIds.storageTableDataContributor)
  scope: jobStateTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appWritesItems 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(itemsTable.id, appIdentityId, roleIds.storageTableDataContributor)
  scope: itemsTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The job queue: the queue trigger reads and processes messages (Microsoft's
// roles for a queue trigger: Storage Queue Data Reader and Storage Queue Data
// Message Processor), and Create enqueues (Storage Queue Data Message Sender).
resource jobQueueReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobQueue.id, appIdentityId, roleIds.storageQueueDataReader)
  scope: jobQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobQueueProcessor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobQueue.id, appIdentityId, roleIds.storageQueueDataMessageProcessor)
  scope: jobQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataMessageProcessor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(jobQueue.id, appIdentityId, roleIds.storageQueueDataMessageSender)
  scope: jobQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataMessageSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The poison queue: the host adds a message that failed maxDequeueCount times
// (it creates the queue only when it is missing, and this template creates
// it), and the app's trigger on the poison queue reads and processes it.
resource poisonQueueReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poisonQueue.id, appIdentityId, roleIds.storageQueueDataReader)
  scope: poisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource poisonQueueProcessor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poisonQueue.id, appIdentityId, roleIds.storageQueueDataMessageProcessor)
  scope: poisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataMessageProcessor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource poisonQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poisonQueue.id, appIdentityId, roleIds.storageQueueDataMessageSender)
  scope: poisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataMessageSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights refuses keys (DisableLocalAuth), so the host sends
// telemetry with the identity's token.
resource appSendsTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appIdentityId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The app reads its two assertion keys through Key Vault references, as the
// identity: Key Vault Secrets User on each of the two secrets, never on the
// vault, so a secret added to the vault later is not the app's to read.
resource appReadsCurrentKey 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(currentKey.id, appIdentityId, roleIds.keyVaultSecretsUser)
  scope: currentKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appReadsPreviousKey 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(previousKey.id, appIdentityId, roleIds.keyVaultSecretsUser)
  scope: previousKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Optional: a job runner outside the app writes the job rows the app serves.
resource runnerWritesJobState 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(jobRunnerPrincipalId)) {
  name: guid(jobStateTable.id, jobRunnerPrincipalId, roleIds.storageTableDataContributor)
  scope: jobStateTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: jobRunnerPrincipalId
    principalType: jobRunnerPrincipalType
  }
}
