"""bms-stream core: the event contract, scenario, generator, validator and Synapse access.

Deployed with the Function App. Importing this package stays cheap (no Faker, no Event Hubs
SDK, no pyodbc): those load lazily inside the functions that need them.
"""

__version__ = "0.1.0"
