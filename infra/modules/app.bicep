// The Function App on a Flex Consumption (FC1) plan, with the user-assigned identity it uses
// for everything: the deployment package, AzureWebJobsStorage, Event Hubs, Application Insights
// and (when deployed) Synapse. App settings name endpoints and the identity only; none holds a
// key.

param location string
param tags object
param planName string
param appName string
param identityName string

@description('azd finds the app to deploy by this tag (the service name in azure.yaml).')
param serviceName string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string

@description('Python version of the app (Flex Consumption runtime).')
param runtimeVersion string

@description('Memory of each instance, MB.')
param instanceMemoryMB int

@description('Upper bound of scale-out, which bounds the bill too.')
param maximumInstanceCount int

@description('Settings of the app other than connections (BMS_*).')
param appSettings object

param eventHubsFullyQualifiedNamespace string

@description('Synapse SQL endpoint and pool for reconcile; empty when Synapse is not deployed.')
param synapseServer string
param synapseDatabase string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
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
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: runtimeVersion
      }
    }
  }
}

// ODBC with Entra authentication as the app's identity (UID is its client id): no password.
var synapseConnection = empty(synapseServer) ? '' : 'Driver={ODBC Driver 18 for SQL Server};Server=tcp:${synapseServer},1433;Database=${synapseDatabase};Authentication=ActiveDirectoryMsi;UID=${identity.properties.clientId};Encrypt=yes;'

// Identity-based connections as the Functions host defines them: <connection>__<property>.
var connectionSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  EventHubConnection__fullyQualifiedNamespace: eventHubsFullyQualifiedNamespace
  EventHubConnection__credential: 'managedidentity'
  EventHubConnection__clientId: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identity.properties.clientId}'
  BMS_SYNAPSE_CONNECTION: synapseConnection
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union(appSettings, connectionSettings)
}

output appName string = app.name
output defaultHostName string = app.properties.defaultHostName
output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output identityName string = identity.name
