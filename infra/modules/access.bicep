// Every role the Function App's identity and the Stream Analytics job's identity hold, each on
// the one resource it is needed for (a hub, a queue, a container, the account, the component),
// never on the resource group or the namespace.
//
// Function App (user-assigned identity):
//   Azure Event Hubs Data Sender    hubs bookings, payments   emit_bookings / emit_payments / burst
//   Azure Event Hubs Data Receiver  hub joined                validate_joined trigger
//   Storage Blob Data Owner         storage account           host: deployment package, locks,
//                                                             timer and checkpoint blobs, keys
//   Storage Table Data Contributor  storage account           findings, summaries, manifests,
//                                                             reconcile (create-if-missing too)
//   Storage Queue Data Contributor  burst queue, its poison   burst fan-out trigger and enqueue
//   Monitoring Metrics Publisher    Application Insights      telemetry with Entra auth
// Stream Analytics job (system-assigned identity):
//   Azure Event Hubs Data Receiver  hubs bookings, payments
//   Azure Event Hubs Data Sender    hub joined
//   Storage Blob Data Contributor   warehouse container       only without Synapse
// The user running azd (when azd passes its id):
//   Storage Table Data Reader       storage account           read findings and summaries
//   Azure Event Hubs Data Sender    hubs bookings, payments   python -m bms_core publish
//   Azure Event Hubs Data Receiver  hubs bookings, payments,  python -m bms_core tail
//                                   joined

param appPrincipalId string
param jobPrincipalId string

@description('The user running azd, given read access to the findings; empty for none.')
param userPrincipalId string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param userPrincipalType string

param eventHubsNamespaceName string
param bookingsHubName string
param paymentsHubName string
param joinedHubName string

param storageAccountName string
param burstQueueName string
param warehouseContainerName string
param applicationInsightsName string

@description('Without Synapse the job writes its warehouse outputs to a blob container.')
param deploySynapse bool

// Built-in role definition ids (the same in every tenant).
var roleIds = {
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubsNamespaceName
}

resource bookingsHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: namespace
  name: bookingsHubName
}

resource paymentsHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: namespace
  name: paymentsHubName
}

resource joinedHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: namespace
  name: joinedHubName
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource burstQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: burstQueueName
}

resource burstPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' existing = {
  parent: queueService
  name: '${burstQueueName}-poison'
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource warehouseContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: warehouseContainerName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// --- the Function App -------------------------------------------------------------------------

resource appSendsBookings 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(bookingsHub.id, appPrincipalId, roleIds.eventHubsDataSender)
  scope: bookingsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appSendsPayments 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(paymentsHub.id, appPrincipalId, roleIds.eventHubsDataSender)
  scope: paymentsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appReceivesJoined 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(joinedHub.id, appPrincipalId, roleIds.eventHubsDataReceiver)
  scope: joinedHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataReceiver)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appOwnsBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, appPrincipalId, roleIds.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appWritesTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, appPrincipalId, roleIds.storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appUsesBurstQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(burstQueue.id, appPrincipalId, roleIds.storageQueueDataContributor)
  scope: burstQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appUsesBurstPoisonQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(burstPoisonQueue.id, appPrincipalId, roleIds.storageQueueDataContributor)
  scope: burstPoisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appPublishesTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// --- the Stream Analytics job -----------------------------------------------------------------

resource jobReceivesBookings 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(bookingsHub.id, jobPrincipalId, roleIds.eventHubsDataReceiver)
  scope: bookingsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataReceiver)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobReceivesPayments 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(paymentsHub.id, jobPrincipalId, roleIds.eventHubsDataReceiver)
  scope: paymentsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataReceiver)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobSendsJoined 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(joinedHub.id, jobPrincipalId, roleIds.eventHubsDataSender)
  scope: joinedHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataSender)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobWritesWarehouseBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!deploySynapse) {
  name: guid(warehouseContainer.id, jobPrincipalId, roleIds.storageBlobDataContributor)
  scope: warehouseContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// --- the user running azd -----------------------------------------------------------------------

resource userReadsTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storageAccount.id, userPrincipalId, roleIds.storageTableDataReader)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataReader)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userSendsBookings 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(bookingsHub.id, userPrincipalId, roleIds.eventHubsDataSender)
  scope: bookingsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataSender)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userSendsPayments 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(paymentsHub.id, userPrincipalId, roleIds.eventHubsDataSender)
  scope: paymentsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataSender)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userReceivesBookings 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(bookingsHub.id, userPrincipalId, roleIds.eventHubsDataReceiver)
  scope: bookingsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataReceiver)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userReceivesPayments 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(paymentsHub.id, userPrincipalId, roleIds.eventHubsDataReceiver)
  scope: paymentsHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataReceiver)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userReceivesJoined 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(joinedHub.id, userPrincipalId, roleIds.eventHubsDataReceiver)
  scope: joinedHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventHubsDataReceiver)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}
