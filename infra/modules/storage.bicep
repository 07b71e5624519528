// The one storage account: the Functions host's own blobs, the Flex
// Consumption deployment container, the job and item tables and the job
// queue with its poison queue. No account keys: every caller authenticates
// with Microsoft Entra ID.

@description('Storage account name: 3-24 lower-case letters and digits, unique in Azure.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Blob container that holds the deployment package (functionAppConfig.deployment).')
param deploymentContainerName string

@description('Table of job instances, one row per job.')
param jobStateTableName string

@description('Table of workload items.')
param itemsTableName string

@description('Queue that starts job runs.')
param jobQueueName string

@description('Where the Functions host moves a job-run message that failed too often. Created here, so the host never has to create it.')
param poisonQueueName string

resource account 'Microsoft.Storage/storageAccounts@2026-09-01' = {
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

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-09-01' = {
  parent: account
  name: 'default'
}

resource jobStateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' = {
  parent: tableService
  name: jobStateTableName
}

resource itemsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' = {
  parent: tableService
  name: itemsTableName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-09-01' = {
  parent: account
  name: 'default'
}

resource jobQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' = {
  parent: queueService
  name: jobQueueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' = {
  parent: queueService
  name: poisonQueueName
}

@description('Ends with a slash, e.g. https://<account>.blob.core.windows.net/')
output blobEndpoint string = account.properties.primaryEndpoints.blob
@description('Ends with a slash, e.g. https://<account>.table.core.windows.net/')
output tableEndpoint string = account.properties.primaryEndpoints.table
@description('Ends with a slash, e.g. https://<account>.queue.core.windows.net/')
output queueEndpoint string = account.properties.primaryEndpoints.queue
output jobStateTableName string = jobStateTable.name
output itemsTableName string = itemsTable.name
output jobQueueName string = jobQueue.name
output poisonQueueName string = poisonQueue.name
output deploymentContainerName string = deploymentContainer.name
