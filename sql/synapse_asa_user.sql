-- bms-stream: the Stream Analytics job's database user, from its system-assigned managed identity.
--
-- Run in the dedicated SQL pool's database (not master), connected as the Microsoft Entra admin
-- (or any principal with ALTER ANY USER), after sql/synapse_create_table.sql. Replace
-- <asa-job-name> with the job's name: its managed identity carries that display name.
-- Safe to run twice.
--
-- Least privilege: the job only writes the two fact tables. SELECT on them lets the portal's
-- "Test connection" and ASA's output schema check read the table; INSERT writes rows. No
-- schema-wide, DDL or read access to anything else (the views and other tables stay closed).

IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'<asa-job-name>')
    CREATE USER [<asa-job-name>] FROM EXTERNAL PROVIDER;
GO

GRANT SELECT, INSERT ON OBJECT::bms.fact_seat_payment TO [<asa-job-name>];
GO
GRANT SELECT, INSERT ON OBJECT::bms.fact_order_payment TO [<asa-job-name>];
GO

-- The Synapse output loads rows in bulk; the database-level bulk permission is the one grant
-- beyond the two tables that this path needs.
GRANT ADMINISTER DATABASE BULK OPERATIONS TO [<asa-job-name>];
GO
