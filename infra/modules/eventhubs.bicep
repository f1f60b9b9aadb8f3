// Event Hubs: one Standard namespace with the three hubs and the consumer groups their readers
// use. Shared access keys are disabled: every client (the Function App, the Stream Analytics job,
// a developer's CLI) authenticates with Microsoft Entra ID.

param location string
param tags object
param namespaceName string

@description('Throughput units of the namespace (1 TU = 1 MB/s or 1,000 events/s in).')
@minValue(1)
@maxValue(40)
param throughputUnits int

@description('Let Event Hubs raise throughput units under load, up to maximumThroughputUnits.')
param autoInflate bool

@minValue(1)
@maxValue(40)
param maximumThroughputUnits int

@description('Partitions of every hub: bookings, payments and joined must be equal.')
@minValue(1)
@maxValue(32)
param partitionCount int

@minValue(1)
@maxValue(7)
param messageRetentionInDays int

@description('Hub names, in order: bookings, payments, joined.')
param bookingsHubName string
param paymentsHubName string
param joinedHubName string

@description('Consumer group the Stream Analytics job reads bookings and payments with.')
param jobConsumerGroup string

@description('Consumer group validate_joined reads the joined hub with.')
param validatorConsumerGroup string

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: throughputUnits
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    isAutoInflateEnabled: autoInflate
    maximumThroughputUnits: autoInflate ? maximumThroughputUnits : 0
  }
}

resource bookings 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: bookingsHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
  }
}

resource payments 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: paymentsHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
  }
}

resource joined 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: joinedHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
  }
}

resource bookingsJobGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: bookings
  name: jobConsumerGroup
}

resource paymentsJobGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: payments
  name: jobConsumerGroup
}

resource joinedValidatorGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: joined
  name: validatorConsumerGroup
}

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
