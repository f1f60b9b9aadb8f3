// The Stream Analytics job, built from the VS Code project in asa/ so that the query, the job
// configuration and the input/output definitions exist once. What comes from asa/:
//   * the query: asa/bms_join.asaql, loaded as text, unchanged;
//   * from asa/JobConfig.json: DataLocale, OutputErrorPolicy, EventsLateArrivalMaxDelayInSeconds,
//     EventsOutOfOrderMaxDelayInSeconds, EventsOutOfOrderPolicy, CompatibilityLevel, Sku.Name,
//     ContentStoragePolicy, UseSystemAssignedIdentity and Tags. Sku.StreamingUnits counts SU V2
//     while ARM counts 3, 7, 10, 20 ... (1/3, 2/3, 1, 2 SU V2), so it is the parameter
//     streamingUnits, whose default a test holds to 10 x the file's value;
//   * from asa/Inputs/Input_<alias>.json: Name (the alias), Type, EventHubName,
//     ConsumerGroupName, AuthenticationMode, Serialization.Type and .Encoding, CompressionType
//     (no partition key: producers send keyless batches and the join matches order_id across
//     partitions);
//   * from asa/Outputs/Output_joined.json: Name, EventHubName, PartitionKey, PropertyColumns,
//     AuthenticationMode, Serialization.Type, .Encoding and .Format;
//   * from asa/Outputs/Output_synapse-*.json: Name, Table, AuthenticationMode. Without Synapse the
//     two outputs keep their aliases (the query writes to them) and write line-separated JSON to
//     a blob container of the app's storage account instead.
// What does not come from asa/, and why: the placeholders there (ServiceBusNamespace, Server,
// Database) are the deployed namespace, workspace and pool; the SharedAccessPolicy*, User and
// Password fields are null in asa/ (every connection is by managed identity) and have no
// counterpart here; the VS Code file names types differently from ARM (DataSourceType
// "Event Hub" is Microsoft.EventHub/EventHub, "Azure Synapse Analytics" is
// Microsoft.Sql/Server/DataWarehouse, Type "Data Stream" is Stream). Inputs/Local_*.json and
// Test/ are for local runs only.

param location string
param tags object
param jobName string
param eventHubsNamespaceName string

@description('Streaming units in ARM units: 3 = 1/3 SU V2, 7 = 2/3, 10 = 1 SU V2, then 10 per SU V2.')
param streamingUnits int

param deploySynapse bool
@description('Synapse SQL endpoint, <workspace>.sql.azuresynapse.net (empty without Synapse).')
param synapseServer string
param synapseDatabase string

param storageAccountName string
param warehouseContainerName string

var config = loadJsonContent('../../asa/JobConfig.json')
var query = loadTextContent('../../asa/bms_join.asaql')
var inputFiles = [
  loadJsonContent('../../asa/Inputs/Input_bookings.json')
  loadJsonContent('../../asa/Inputs/Input_payments.json')
]
var joinedOutput = loadJsonContent('../../asa/Outputs/Output_joined.json')
var warehouseOutputs = [
  loadJsonContent('../../asa/Outputs/Output_synapse-seats.json')
  loadJsonContent('../../asa/Outputs/Output_synapse-orders.json')
]

// VS Code's input types, as ARM names them.
var inputTypes = {
  'Data Stream': 'Stream'
  'Reference Data': 'Reference'
}

var inputs = [
  for input in inputFiles: {
    name: input.Name
    properties: {
      type: inputTypes[input.Type]
      datasource: {
        type: 'Microsoft.EventHub/EventHub'
        properties: {
          serviceBusNamespace: eventHubsNamespaceName
          eventHubName: input.EventHubProperties.EventHubName
          consumerGroupName: input.EventHubProperties.ConsumerGroupName
          authenticationMode: input.EventHubProperties.AuthenticationMode
        }
      }
      serialization: {
        type: input.Serialization.Type
        properties: {
          encoding: input.Serialization.Encoding
        }
      }
      compression: {
        type: input.CompressionType
      }
    }
  }
]

var joined = {
  name: joinedOutput.Name
  properties: {
    datasource: {
      type: 'Microsoft.EventHub/EventHub'
      properties: {
        serviceBusNamespace: eventHubsNamespaceName
        eventHubName: joinedOutput.EventHubProperties.EventHubName
        partitionKey: joinedOutput.EventHubProperties.PartitionKey
        propertyColumns: joinedOutput.EventHubProperties.PropertyColumns
        authenticationMode: joinedOutput.EventHubProperties.AuthenticationMode
      }
    }
    serialization: {
      type: joinedOutput.Serialization.Type
      properties: {
        encoding: joinedOutput.Serialization.Encoding
        format: joinedOutput.Serialization.Format
      }
    }
  }
}

var synapseOutputs = [
  for output in warehouseOutputs: {
    name: output.Name
    properties: {
      datasource: {
        type: 'Microsoft.Sql/Server/DataWarehouse'
        properties: {
          server: synapseServer
          database: synapseDatabase
          table: output.DataWarehouseProperties.Table
          authenticationMode: output.DataWarehouseProperties.AuthenticationMode
        }
      }
    }
  }
]

var blobOutputs = [
  for output in warehouseOutputs: {
    name: output.Name
    properties: {
      datasource: {
        type: 'Microsoft.Storage/Blob'
        properties: {
          storageAccounts: [
            {
              accountName: storageAccountName
            }
          ]
          container: warehouseContainerName
          pathPattern: '${output.Name}/{date}/{time}'
          dateFormat: 'yyyy/MM/dd'
          timeFormat: 'HH'
          authenticationMode: output.DataWarehouseProperties.AuthenticationMode
        }
      }
      serialization: {
        type: 'Json'
        properties: {
          encoding: 'UTF8'
          format: 'LineSeparated'
        }
      }
    }
  }
]

resource job 'Microsoft.StreamAnalytics/streamingjobs@2021-10-01-preview' = {
  name: jobName
  location: location
  tags: union(tags, config.Tags)
  identity: {
    type: config.UseSystemAssignedIdentity ? 'SystemAssigned' : 'None'
  }
  properties: {
    sku: {
      name: config.Sku.Name
    }
    jobType: 'Cloud'
    compatibilityLevel: config.CompatibilityLevel
    dataLocale: config.DataLocale
    outputErrorPolicy: config.OutputErrorPolicy
    eventsLateArrivalMaxDelayInSeconds: config.EventsLateArrivalMaxDelayInSeconds
    eventsOutOfOrderMaxDelayInSeconds: config.EventsOutOfOrderMaxDelayInSeconds
    eventsOutOfOrderPolicy: config.EventsOutOfOrderPolicy
    contentStoragePolicy: config.ContentStoragePolicy
    outputStartMode: 'JobStartTime'
    inputs: inputs
    outputs: concat([joined], deploySynapse ? synapseOutputs : blobOutputs)
    transformation: {
      name: 'Transformation'
      properties: {
        streamingUnits: streamingUnits
        query: query
      }
    }
  }
}

output jobName string = job.name
output principalId string = job.identity.principalId
