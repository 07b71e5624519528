// The one storage account: the Functions host's own blobs, the Flex
// Consumption deployment container and the job-state table. No account keys:
// every caller authenticates with Microsoft Entra ID.

@description('Storage account name: 3-24 lower-case letters and digits, unique in Azure.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Blob container that holds the deployment package (functionAppConfig.deployment).')
param deploymentContainerName string

@description('The job-state table: one row per job instance, which the endpoint reads.')
param tableName string

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-01-01' = {
  parent: tableService
  name: tableName
}

output name string = account.name
@description('Ends with a slash, e.g. https://<account>.blob.core.windows.net/')
output blobEndpoint string = account.properties.primaryEndpoints.blob
@description('Ends with a slash, e.g. https://<account>.table.core.windows.net/')
output tableEndpoint string = account.properties.primaryEndpoints.table
output tableName string = table.name
output deploymentContainerName string = deploymentContainer.name
