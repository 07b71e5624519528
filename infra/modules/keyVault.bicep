// The vault of the two keys that seal each running job's copy of its user's
// token on the job's row (USER_ASSERTION_KEY, USER_ASSERTION_KEY_PREVIOUS):
// the keys never sit in the table's storage account. Azure RBAC only (no
// access policies), soft delete and purge protection on. Like storage, a
// public endpoint that accepts only Entra-authenticated callers: the app has
// no virtual network. Who may read the two secrets is in roles.bicep: the
// app's identity, on each secret, nothing more.
//
// The values are the template's parameters, written on every deployment:
// Key Vault keeps one version while the value is unchanged, so a redeploy
// with the same values changes nothing, and rotating means deploying new
// values (docs/deploy.md, "Rotating the assertion key"; why:
// docs/decisions.md, "The assertion keys").

@description('Key Vault name: 3-24 letters, digits and hyphens, starting with a letter, unique in Azure.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Secret that holds USER_ASSERTION_KEY.')
param currentKeySecretName string

@description('Secret that holds USER_ASSERTION_KEY_PREVIOUS.')
param previousKeySecretName string

@secure()
@minLength(43)
@description('USER_ASSERTION_KEY: the key new seals are made under.')
param userAssertionKey string

@secure()
@minLength(43)
@description('USER_ASSERTION_KEY_PREVIOUS: the key before the last rotation; seals made under it still open.')
param userAssertionKeyPrevious string

// Soft delete's shortest retention. A deleted vault keeps its name (purge
// protection forbids purging it) for this long, and a key only guards tokens
// that live about 90 minutes: a lost vault is noticed at once (the app then
// refuses to start), not weeks later.
var softDeleteRetentionInDays = 7

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    accessPolicies: []
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
  }
}

resource currentKey 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = {
  parent: vault
  name: currentKeySecretName
  properties: {
    value: userAssertionKey
  }
}

resource previousKey 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = {
  parent: vault
  name: previousKeySecretName
  properties: {
    value: userAssertionKeyPrevious
  }
}

// Versionless references with a trailing slash, the form Microsoft documents
// for "the latest version": the app follows a new value without a change of
// its settings. Built from the names, so they are known when the deployment
// starts, and in the cloud deployed to.
@description('For @Microsoft.KeyVault(SecretUri=...): the current key, no version.')
output currentKeyUri string = 'https://${vault.name}${environment().suffixes.keyvaultDns}/secrets/${currentKey.name}/'
@description('For @Microsoft.KeyVault(SecretUri=...): the previous key, no version.')
output previousKeyUri string = 'https://${vault.name}${environment().suffixes.keyvaultDns}/secrets/${previousKey.name}/'
output name string = vault.name
