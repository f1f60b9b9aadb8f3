// bms-stream on Azure: `azd up` provisions everything below into one resource group and deploys
// the Function App; `azd down` deletes the group. No resource is given a key, SAS or connection
// string with a secret: every connection is made by a managed identity holding the roles in
// modules/access.bicep.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource (it must offer Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the user running azd: reads the findings tables, and is the Entra admin of the Synapse workspace when deployed.')
param principalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

// --- Event Hubs -----------------------------------------------------------------------------
@description('Throughput units of the Event Hubs namespace.')
@minValue(1)
@maxValue(40)
param eventHubsThroughputUnits int = 1

@description('Let Event Hubs raise throughput units under load (billed per unit-hour used).')
param eventHubsAutoInflate bool = false

@minValue(1)
@maxValue(40)
param eventHubsMaximumThroughputUnits int = 4

@description('Partitions of each hub; bookings, payments and joined always share this count.')
@minValue(1)
@maxValue(32)
param partitionCount int = 4

@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 1

// --- Function App ---------------------------------------------------------------------------
@allowed([
  '3.10'
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Memory of each instance, MB.')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound of scale-out (Flex Consumption accepts 40 to 1000); it also bounds the bill.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

// --- Stream Analytics -----------------------------------------------------------------------
@description('Streaming units in ARM units: 3 = 1/3 SU V2, 7 = 2/3, 10 = 1 SU V2 (asa/JobConfig.json), then 10 per SU V2.')
@minValue(3)
@maxValue(660)
param streamingUnits int = 10

// --- Synapse (optional) ---------------------------------------------------------------------
@description('Deploy a Synapse workspace and dedicated SQL pool (billed per hour while online).')
param deploySynapse bool = false

param synapsePoolSku string = 'DW100c'

@description('Public IP of the machine running azd, let through the Synapse firewall for the postprovision step.')
param clientIpAddress string = ''

// --- names ----------------------------------------------------------------------------------
var serviceName = 'bms-stream'
var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  project: 'bms-stream'
}
var bookingsHubName = 'bookings'
var paymentsHubName = 'payments'
var joinedHubName = 'joined'
var jobConsumerGroup = 'asa'
var validatorConsumerGroup = 'validator'
var tableNames = [
  'bmsbursts'
  'bmsfindings'
  'bmsvalidation'
  'bmsreconcile'
]
var burstQueueName = 'bms-burst-chunks'
var deploymentContainerName = 'app-package'
var warehouseContainerName = 'bms-warehouse'
var synapsePoolName = 'bmspool'

// App settings other than connections: the values local.settings.json.example documents.
var appSettings = {
  BMS_BOOKINGS_SCHEDULE: '*/10 * * * * *'
  BMS_PAYMENTS_SCHEDULE: '*/10 * * * * *'
  BMS_RECONCILE_SCHEDULE: '0 5 * * * *'
  BMS_BOOKINGS_HUB: bookingsHubName
  BMS_PAYMENTS_HUB: paymentsHubName
  BMS_JOINED_HUB: joinedHubName
  BMS_VALIDATOR_CONSUMER_GROUP: validatorConsumerGroup
  BMS_VALIDATION_SAMPLE_RATE: '0.1'
  BMS_BURST_MAX_ORDERS: '1000'
  BMS_MAX_CATCHUP_SLOTS: '30'
  BMS_RECONCILE_WINDOW_MINUTES: '60'
  BMS_RECONCILE_DELAY_MINUTES: '30'
  BMS_SEED: '1'
  BMS_SLOT_SECONDS: '10'
  BMS_ORDERS_PER_MINUTE: '600'
}

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${token}'
    applicationInsightsName: 'appi-${token}'
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  scope: rg
  params: {
    location: location
    tags: tags
    namespaceName: 'evhns-${token}'
    throughputUnits: eventHubsThroughputUnits
    autoInflate: eventHubsAutoInflate
    maximumThroughputUnits: eventHubsMaximumThroughputUnits
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
    bookingsHubName: bookingsHubName
    paymentsHubName: paymentsHubName
    joinedHubName: joinedHubName
    jobConsumerGroup: jobConsumerGroup
    validatorConsumerGroup: validatorConsumerGroup
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    accountName: 'st${token}'
    deploymentContainerName: deploymentContainerName
    warehouseContainerName: warehouseContainerName
    tableNames: tableNames
    queueNames: [
      burstQueueName
    ]
  }
}

module synapse 'modules/synapse.bicep' = if (deploySynapse) {
  name: 'synapse'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: 'syn-${token}'
    dataLakeAccountName: 'stsyn${token}'
    poolName: synapsePoolName
    poolSku: synapsePoolSku
    adminObjectId: principalId
    adminPrincipalType: principalType
    clientIpAddress: clientIpAddress
  }
}

module app 'modules/app.bicep' = {
  name: 'app'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: 'plan-${token}'
    appName: 'func-${token}'
    identityName: 'id-func-${token}'
    serviceName: serviceName
    storageAccountName: storage.outputs.accountName
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    runtimeVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSettings: appSettings
    eventHubsFullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
    synapseServer: deploySynapse ? synapse.outputs.sqlServer : ''
    synapseDatabase: deploySynapse ? synapsePoolName : ''
  }
}

module streamJob 'modules/streamjob.bicep' = {
  name: 'streamjob'
  scope: rg
  params: {
    location: location
    tags: tags
    jobName: 'asa-${token}'
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    streamingUnits: streamingUnits
    deploySynapse: deploySynapse
    synapseServer: deploySynapse ? synapse.outputs.sqlServer : ''
    synapseDatabase: deploySynapse ? synapsePoolName : ''
    storageAccountName: storage.outputs.accountName
    warehouseContainerName: storage.outputs.warehouseContainerName
  }
}

module access 'modules/access.bicep' = {
  name: 'access'
  scope: rg
  params: {
    appPrincipalId: app.outputs.identityPrincipalId
    jobPrincipalId: streamJob.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    bookingsHubName: bookingsHubName
    paymentsHubName: paymentsHubName
    joinedHubName: joinedHubName
    storageAccountName: storage.outputs.accountName
    burstQueueName: burstQueueName
    warehouseContainerName: storage.outputs.warehouseContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    deploySynapse: deploySynapse
  }
}

// Read by azd (and the postprovision hook) as environment values; none is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.appName
output AZURE_FUNCTION_APP_URL string = 'https://${app.outputs.defaultHostName}'
output AZURE_APP_IDENTITY_NAME string = app.outputs.identityName
output EVENTHUBS_FULLY_QUALIFIED_NAMESPACE string = eventHubs.outputs.fullyQualifiedNamespace
output STORAGE_ACCOUNT_NAME string = storage.outputs.accountName
output STREAM_JOB_NAME string = streamJob.outputs.jobName
output SYNAPSE_ENABLED bool = deploySynapse
output SYNAPSE_SQL_SERVER string = deploySynapse ? synapse.outputs.sqlServer : ''
output SYNAPSE_POOL_NAME string = deploySynapse ? synapsePoolName : ''
