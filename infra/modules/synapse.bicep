// Optional warehouse: a Synapse workspace with Microsoft Entra-only authentication (no SQL
// login, no password) and one dedicated SQL pool. A dedicated pool bills per hour while it is
// online, which is why main.bicep deploys this module only when asked (deploySynapse).
// The deploying user becomes the workspace's Entra admin, so the postprovision hook can apply
// sql/ with the user's own sign-in.

param location string
param tags object
param workspaceName string
param dataLakeAccountName string
param poolName string

@description('Performance level of the dedicated SQL pool.')
param poolSku string

@description('Object id of the Entra admin (azd: the signed-in user).')
param adminObjectId string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param adminPrincipalType string

@description('Public IP allowed through the workspace firewall (the machine running azd), or empty.')
param clientIpAddress string

var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource dataLake 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: dataLakeAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    isHnsEnabled: true
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource dataLakeBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: dataLake
  name: 'default'
}

resource fileSystem 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: dataLakeBlobs
  name: 'synapse'
}

resource workspace 'Microsoft.Synapse/workspaces@2021-06-01' = {
  name: workspaceName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    azureADOnlyAuthentication: true
    defaultDataLakeStorage: {
      accountUrl: dataLake.properties.primaryEndpoints.dfs
      filesystem: fileSystem.name
    }
  }
}

resource entraAdmin 'Microsoft.Synapse/workspaces/administrators@2021-06-01' = {
  parent: workspace
  name: 'activeDirectory'
  properties: {
    administratorType: 'ActiveDirectory'
    login: 'azd-admin'
    sid: adminObjectId
    tenantId: tenant().tenantId
  }
}

// Stream Analytics reaches the pool as an Azure service.
resource allowAzure 'Microsoft.Synapse/workspaces/firewallRules@2021-06-01' = {
  parent: workspace
  name: 'AllowAllWindowsAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource allowClient 'Microsoft.Synapse/workspaces/firewallRules@2021-06-01' = if (!empty(clientIpAddress)) {
  parent: workspace
  name: 'azd-client'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
}

resource pool 'Microsoft.Synapse/workspaces/sqlPools@2021-06-01' = {
  parent: workspace
  name: poolName
  location: location
  tags: tags
  sku: {
    name: poolSku
  }
  properties: {
    createMode: 'Default'
    collation: 'SQL_Latin1_General_CP1_CI_AS'
  }
}

// The workspace's own identity needs its default file system (Synapse requirement).
resource workspaceDataLake 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(fileSystem.id, workspace.id, storageBlobDataContributor)
  scope: fileSystem
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: workspace.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output sqlServer string = '${workspace.name}.sql.azuresynapse.net'
output poolName string = pool.name
output workspaceName string = workspace.name
