// The Fabric workload backend: an Azure Functions app on the Flex Consumption
// plan, one user-assigned managed identity for everything it touches, a
// storage account without keys (job and item tables, the job queue),
// Application Insights without keys, and a Key Vault with the two keys that
// seal each running job's copy of its user's token.
//
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.json ...
//   azd up                                   (azure.yaml at the repository root)
//
// docs/deploy.md walks through it; docs/decisions.md says why it looks like
// this. API versions and role ids were checked against the sources listed in
// docs/deploy.md#sources.

targetScope = 'resourceGroup'

@description('Region for every resource. It must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('Short name that resource names start with: lowercase letters, digits and hyphens.')
@minLength(2)
@maxLength(12)
param baseName string = 'fabricjobs'

@description('PUBLISHER_TENANT_ID: tenant of the workload\'s Entra app registration (a GUID).')
@minLength(36)
@maxLength(36)
param publisherTenantId string

@description('WORKLOAD_CLIENT_ID: application (client) id of the workload\'s Entra app (a GUID).')
@minLength(36)
@maxLength(36)
param workloadClientId string

@description('WORKLOAD_AUDIENCE: Application ID URI of the workload\'s Entra app.')
@minLength(1)
param workloadAudience string

@description('ENTRA_AUTHORITY_HOST: the Entra authority of the cloud this is deployed to. Change it only for a cloud whose tokens come from elsewhere.')
param entraAuthorityHost string = environment().authentication.loginEndpoint

@description('JOB_STATE_TABLE_NAME: the job-state table (letters and digits, starting with a letter).')
@minLength(3)
@maxLength(63)
param jobStateTableName string = 'JobInstances'

@description('ENDPOINT_RESOLUTION_URLS: backend base URL per lower-case Fabric region name, and under "default" for any other region. Empty (the default): the app answers Fabric\'s EndpointResolution call with 500 EndpointResolutionNotConfigured, so set it before the workload manifest names a resolution endpoint.')
param endpointResolutionUrls object = {}

@description('Days Log Analytics keeps telemetry. Fabric workload certification asks for 30 days of health telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('E-mail address the alerts notify (through the action group). Empty: alerts fire without notifying anyone.')
param alertEmail string = ''

@description('5xx answers in 15 minutes above which the server-errors alert fires.')
@minValue(0)
param serverErrorAlertThreshold int = 5

@description('401 answers in 15 minutes above which the authentication-failures alert fires.')
@minValue(0)
param authFailureAlertThreshold int = 20

// The keys that seal each running job's copy of its user's token on its row
// (USER_ASSERTION_KEY, USER_ASSERTION_KEY_PREVIOUS). azd generates each once
// and keeps it in the environment's own store, outside the repository, for
// every later `azd provision`; `az deployment group create` takes them with
// -p. They must stay the same from one deployment to the next: a new value
// is a rotation (docs/deploy.md, "Rotating the assertion key"; why:
// docs/decisions.md, "The assertion keys").
@secure()
@minLength(43)
@description('USER_ASSERTION_KEY: 43 or more characters of random text, the same on every deployment. azd generates it once.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 64
      noSpecial: true
    }
  }
})
param userAssertionKey string

@secure()
@minLength(43)
@description('USER_ASSERTION_KEY_PREVIOUS: the key before the last rotation; the same value as userAssertionKey when there is none. azd generates it once.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 64
      noSpecial: true
    }
  }
})
param userAssertionKeyPrevious string

@description('Optional principal (object) id of a job runner outside the app to make Storage Table Data Contributor on the job-state table. Empty: none.')
param jobRunnerPrincipalId string = ''

@description('What kind of principal jobRunnerPrincipalId is.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param jobRunnerPrincipalType string = 'ServicePrincipal'

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// Flex Consumption's highest is 1000; the lowest maximum it accepts has been
// documented as 40 and, later, 1, so only the upper bound is enforced firmly.
@description('Most instances the app scales out to (at most 1000 on Flex Consumption).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

param tags object = {}

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, baseName))
var deploymentContainerName = 'app-package'
// Names are known when the deployment starts, so the role assignments'
// scopes and names are too (What-If can predict them).
var storageAccountName = 'st${resourceToken}'
var applicationInsightsName = 'appi-${baseName}-${resourceToken}'
// ITEMS_TABLE_NAME, JOB_QUEUE_NAME; the Functions host moves a message that
// keeps failing to '<queue>-poison'.
var itemsTableName = 'Items'
var jobQueueName = 'job-runs'
var poisonQueueName = '${jobQueueName}-poison'
// Key Vault names are 3-24 characters and unique in Azure.
var keyVaultName = 'kv-${resourceToken}'
var currentKeySecretName = 'user-assertion-key'
var previousKeySecretName = 'user-assertion-key-previous'

// The one identity: host storage, deployment package, telemetry, tables and queues.
// User-assigned, so its roles exist before the app's first start.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-${baseName}-${resourceToken}'
  location: location
  tags: tags
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: storageAccountName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    jobStateTableName: jobStateTableName
    itemsTableName: itemsTableName
    jobQueueName: jobQueueName
    poisonQueueName: poisonQueueName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${baseName}-${resourceToken}'
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    applicationInsightsName: applicationInsightsName
    baseName: baseName
    location: location
    tags: tags
    alertEmail: alertEmail
    serverErrorThreshold: serverErrorAlertThreshold
    authFailureThreshold: authFailureAlertThreshold
  }
  dependsOn: [
    monitoring
  ]
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'keyVault'
  params: {
    name: keyVaultName
    location: location
    tags: tags
    currentKeySecretName: currentKeySecretName
    previousKeySecretName: previousKeySecretName
    userAssertionKey: userAssertionKey
    userAssertionKeyPrevious: userAssertionKeyPrevious
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storageAccountName
    jobStateTableName: jobStateTableName
    itemsTableName: itemsTableName
    jobQueueName: jobQueueName
    poisonQueueName: poisonQueueName
    applicationInsightsName: applicationInsightsName
    keyVaultName: keyVaultName
    currentKeySecretName: currentKeySecretName
    previousKeySecretName: previousKeySecretName
    appIdentityId: identity.id
    appPrincipalId: identity.properties.principalId
    jobRunnerPrincipalId: jobRunnerPrincipalId
    jobRunnerPrincipalType: jobRunnerPrincipalType
  }
  // The scopes are passed by name: the resources must exist first.
  dependsOn: [
    storage
    monitoring
    keyVault
  ]
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: 'plan-${baseName}-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: 'func-${baseName}-${resourceToken}'
  location: location
  // azd finds the app it deploys service "api" of azure.yaml to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // The Key Vault references below are resolved as the user-assigned
    // identity (its resource id), not a system-assigned one, which this app
    // does not have: learn.microsoft.com/azure/app-service/app-service-key-vault-references.
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
      // Flex Consumption takes the runtime, scale and package location from
      // functionAppConfig; settings it deprecates (FUNCTIONS_WORKER_RUNTIME,
      // WEBSITE_RUN_FROM_PACKAGE, ...) are never set here.
      appSettings: [
        // The Functions host: its own storage (blobs only) and telemetry.
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.outputs.blobEndpoint
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: monitoring.outputs.connectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD;ClientId=${identity.properties.clientId}'
        }
        // The app's own settings (src/config/). ENTRA_JWKS_URI and
        // ENTRA_TOKEN_HOST are left out: their defaults follow
        // ENTRA_AUTHORITY_HOST; JOB_HEARTBEAT_SECONDS, ONELAKE_ENDPOINT and
        // FABRIC_API_URL keep the app's defaults, which are Azure's.
        {
          name: 'PUBLISHER_TENANT_ID'
          value: publisherTenantId
        }
        {
          name: 'WORKLOAD_CLIENT_ID'
          value: workloadClientId
        }
        {
          name: 'WORKLOAD_AUDIENCE'
          value: workloadAudience
        }
        {
          name: 'ENTRA_AUTHORITY_HOST'
          value: entraAuthorityHost
        }
        {
          name: 'JOB_STATE_TABLE_ENDPOINT'
          value: storage.outputs.tableEndpoint
        }
        {
          name: 'JOB_STATE_TABLE_NAME'
          value: storage.outputs.jobStateTableName
        }
        {
          name: 'ITEMS_TABLE_NAME'
          value: storage.outputs.itemsTableName
        }
        // The job queue, in the Functions connection-setting convention that
        // the queue trigger and the app's own enqueue both read.
        {
          name: 'JobQueue__queueServiceUri'
          value: storage.outputs.queueEndpoint
        }
        {
          name: 'JobQueue__credential'
          value: 'managedidentity'
        }
        {
          name: 'JobQueue__clientId'
          value: identity.properties.clientId
        }
        {
          name: 'JOB_QUEUE_NAME'
          value: storage.outputs.jobQueueName
        }
        {
          name: 'ENDPOINT_RESOLUTION_URLS'
          value: string(endpointResolutionUrls)
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        // Acting for the user: the workload app's client assertion is this
        // identity's token (a federated identity credential on the app
        // registration, docs/deploy.md section 6), and the keys that seal a
        // running job's user token are the vault's, read at start as the
        // identity (keyVaultReferenceIdentity above), never copied here.
        {
          name: 'WORKLOAD_CLIENT_CREDENTIAL'
          value: 'managedIdentity'
        }
        {
          name: 'WORKLOAD_MANAGED_IDENTITY_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'USER_ASSERTION_KEY'
          value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.currentKeyUri})'
        }
        {
          name: 'USER_ASSERTION_KEY_PREVIOUS'
          value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.previousKeyUri})'
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
  // The host reaches its storage at its first start: the roles must exist.
  dependsOn: [
    roles
  ]
}

// Deployments go through Microsoft Entra (az CLI, Core Tools, pipelines);
// no FTP or SCM user names and passwords.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output functionAppName string = functionApp.name
@description('Where the app answers, for checking the deployment and as the origin behind your own host name; a cloud-mode Fabric workload manifest names a host in your verified domain (docs/deploy.md, section 5).')
output fabricBackendUrl string = 'https://${functionApp.properties.defaultHostName}/api'
output jobStateTableEndpoint string = storage.outputs.tableEndpoint
output jobStateTableName string = storage.outputs.jobStateTableName
output jobQueueServiceUri string = storage.outputs.queueEndpoint
output jobQueueName string = storage.outputs.jobQueueName
output storageAccountName string = storageAccountName
output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
@description('The issuer of the federated identity credential that lets the workload app trust the identity (docs/deploy.md section 6): the identity\'s tenant, which must be the app registration\'s.')
output federatedCredentialIssuer string = '${environment().authentication.loginEndpoint}${identity.properties.tenantId}/v2.0'
output keyVaultName string = keyVault.outputs.name
