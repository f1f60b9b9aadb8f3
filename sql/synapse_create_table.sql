-- bms-stream: Synapse dedicated SQL pool schema for the Stream Analytics outputs.
--
-- Safe to run twice: every statement is guarded. Batches are separated by GO (run them with
-- `python -m bms_core sql apply --connection "<ODBC connection string>"`, sqlcmd or SSMS).
--
-- Columns, order and types are bms_core/joined.py's SEAT_COLUMNS / ORDER_COLUMNS exactly;
-- tests/test_asa_drift.py parses this file and fails on any difference.
--
-- Which table answers which question:
--   bms.fact_seat_payment  (seat grain, one row per seat per joined payment attempt)
--       seat mix, category/seat revenue; seat_amount is the seat's share of the amount paid and
--       the shares of one order sum exactly to it, so SUM(seat_amount) never double counts.
--   bms.fact_order_payment (order grain, one row per joined (booking, payment attempt) pair)
--       revenue, payment success, delays, abandonment; order money appears once per pair.
--   Both are at-least-once (ASA may write a row twice; a duplicated booking event joins twice):
--   query the de-duplicating views bms.v_* below, or the curated *_clean copies, not these.
--   bms.fact_seat_payment_clean, bms.fact_order_payment_clean: the same rows once per key, with
--       a PRIMARY KEY NONCLUSTERED NOT ENFORCED (loaded by sql/synapse_load_clean.sql).
--
-- Distribution: HASH(order_id) co-locates an order's seat and order rows and both tables join
-- on order_id without data movement. HEAP: the tables are loaded by many small ASA batches;
-- a heap takes those cheaply. Move to CLUSTERED COLUMNSTORE INDEX once a table holds well over
-- 60 million rows (1 million rows per each of the 60 distributions fills compressed rowgroups),
-- e.g. with a nightly CTAS; until then a columnstore index would sit in open delta rowgroups.
--
-- Keys. ASA writes at least once, so the landing tables bms.fact_seat_payment and
-- bms.fact_order_payment hold duplicates by design and carry no key: Synapse only accepts
-- PRIMARY KEY NONCLUSTERED NOT ENFORCED, and Microsoft's documentation warns that such a key
-- over duplicate values makes queries return inaccurate results (the optimizer trusts it, e.g.
-- to drop the de-duplication in the views below).
-- The curated copies bms.fact_seat_payment_clean and bms.fact_order_payment_clean have the same
-- columns and do carry the logical keys as PRIMARY KEY NONCLUSTERED ... NOT ENFORCED:
--   seat grain:  (payment_event_id, seat_index)
--   order grain: (payment_event_id)
-- sql/synapse_load_clean.sql fills them from the de-duplicating views, inserting only keys they
-- do not hold yet, so the keys stay true; schedule it (one run at a time) for BI queries that
-- should see one row per key without paying for the de-duplication each time.

IF NOT EXISTS (SELECT 1 FROM sys.schemas WHERE name = N'bms')
    EXEC (N'CREATE SCHEMA bms');
GO

IF OBJECT_ID(N'bms.fact_seat_payment', N'U') IS NULL
    CREATE TABLE bms.fact_seat_payment (
        order_id            NVARCHAR(64)  NOT NULL,
        booking_event_id    NVARCHAR(64)  NOT NULL,
        payment_event_id    NVARCHAR(64)  NOT NULL,
        payment_id          NVARCHAR(64)  NOT NULL,
        attempt             INT           NOT NULL,
        customer_id         NVARCHAR(64)  NOT NULL,
        customer_name       NVARCHAR(200) NOT NULL,
        customer_email      NVARCHAR(200) NOT NULL,
        customer_city       NVARCHAR(100) NOT NULL,
        event_id            NVARCHAR(64)  NOT NULL,
        event_name          NVARCHAR(200) NOT NULL,
        event_type          NVARCHAR(20)  NOT NULL,
        event_category      NVARCHAR(20)  NOT NULL,
        event_location      NVARCHAR(100) NOT NULL,
        venue_name          NVARCHAR(200) NOT NULL,
        show_time           DATETIME2(3)  NOT NULL,
        channel             NVARCHAR(20)  NOT NULL,
        seat_index          INT           NOT NULL,
        seat_count          INT           NOT NULL,
        seat_number         NVARCHAR(8)   NOT NULL,
        seat_category       NVARCHAR(20)  NOT NULL,
        seat_price          DECIMAL(12,2) NOT NULL,
        seat_amount         DECIMAL(12,2) NOT NULL,
        currency            NVARCHAR(3)   NOT NULL,
        payment_method      NVARCHAR(20)  NOT NULL,
        payment_type        NVARCHAR(20)  NOT NULL,
        payment_status      NVARCHAR(10)  NOT NULL,
        failure_reason      NVARCHAR(100) NULL,
        booking_time        DATETIME2(3)  NOT NULL,
        payment_time        DATETIME2(3)  NOT NULL,
        payment_delay_ms    INT           NOT NULL,
        booking_hour_utc    INT           NOT NULL,
        booking_weekday_utc INT           NOT NULL,
        booking_hour_ist    INT           NOT NULL,
        booking_weekday_ist INT           NOT NULL,
        joined_at           DATETIME2(3)  NOT NULL
    )
    WITH (DISTRIBUTION = HASH(order_id), HEAP);
GO

IF OBJECT_ID(N'bms.fact_order_payment', N'U') IS NULL
    CREATE TABLE bms.fact_order_payment (
        order_id            NVARCHAR(64)  NOT NULL,
        booking_event_id    NVARCHAR(64)  NOT NULL,
        payment_event_id    NVARCHAR(64)  NOT NULL,
        payment_id          NVARCHAR(64)  NOT NULL,
        attempt             INT           NOT NULL,
        customer_id         NVARCHAR(64)  NOT NULL,
        customer_city       NVARCHAR(100) NOT NULL,
        event_id            NVARCHAR(64)  NOT NULL,
        event_name          NVARCHAR(200) NOT NULL,
        event_type          NVARCHAR(20)  NOT NULL,
        event_category      NVARCHAR(20)  NOT NULL,
        event_location      NVARCHAR(100) NOT NULL,
        venue_name          NVARCHAR(200) NOT NULL,
        show_time           DATETIME2(3)  NOT NULL,
        channel             NVARCHAR(20)  NOT NULL,
        seat_count          INT           NOT NULL,
        ticket_subtotal     DECIMAL(12,2) NOT NULL,
        convenience_fee     DECIMAL(12,2) NOT NULL,
        gst_on_fee          DECIMAL(12,2) NOT NULL,
        order_total         DECIMAL(12,2) NOT NULL,
        payment_amount      DECIMAL(12,2) NOT NULL,
        currency            NVARCHAR(3)   NOT NULL,
        payment_method      NVARCHAR(20)  NOT NULL,
        payment_type        NVARCHAR(20)  NOT NULL,
        payment_status      NVARCHAR(10)  NOT NULL,
        failure_reason      NVARCHAR(100) NULL,
        booking_time        DATETIME2(3)  NOT NULL,
        payment_time        DATETIME2(3)  NOT NULL,
        payment_delay_ms    INT           NOT NULL,
        booking_hour_utc    INT           NOT NULL,
        booking_weekday_utc INT           NOT NULL,
        booking_hour_ist    INT           NOT NULL,
        booking_weekday_ist INT           NOT NULL,
        joined_at           DATETIME2(3)  NOT NULL
    )
    WITH (DISTRIBUTION = HASH(order_id), HEAP);
GO

-- Curated copies: the landing tables' columns, one row per logical key (see "Keys" above).
IF OBJECT_ID(N'bms.fact_seat_payment_clean', N'U') IS NULL
    CREATE TABLE bms.fact_seat_payment_clean (
        order_id            NVARCHAR(64)  NOT NULL,
        booking_event_id    NVARCHAR(64)  NOT NULL,
        payment_event_id    NVARCHAR(64)  NOT NULL,
        payment_id          NVARCHAR(64)  NOT NULL,
        attempt             INT           NOT NULL,
        customer_id         NVARCHAR(64)  NOT NULL,
        customer_name       NVARCHAR(200) NOT NULL,
        customer_email      NVARCHAR(200) NOT NULL,
        customer_city       NVARCHAR(100) NOT NULL,
        event_id            NVARCHAR(64)  NOT NULL,
        event_name          NVARCHAR(200) NOT NULL,
        event_type          NVARCHAR(20)  NOT NULL,
        event_category      NVARCHAR(20)  NOT NULL,
        event_location      NVARCHAR(100) NOT NULL,
        venue_name          NVARCHAR(200) NOT NULL,
        show_time           DATETIME2(3)  NOT NULL,
        channel             NVARCHAR(20)  NOT NULL,
        seat_index          INT           NOT NULL,
        seat_count          INT           NOT NULL,
        seat_number         NVARCHAR(8)   NOT NULL,
        seat_category       NVARCHAR(20)  NOT NULL,
        seat_price          DECIMAL(12,2) NOT NULL,
        seat_amount         DECIMAL(12,2) NOT NULL,
        currency            NVARCHAR(3)   NOT NULL,
        payment_method      NVARCHAR(20)  NOT NULL,
        payment_type        NVARCHAR(20)  NOT NULL,
        payment_status      NVARCHAR(10)  NOT NULL,
        failure_reason      NVARCHAR(100) NULL,
        booking_time        DATETIME2(3)  NOT NULL,
        payment_time        DATETIME2(3)  NOT NULL,
        payment_delay_ms    INT           NOT NULL,
        booking_hour_utc    INT           NOT NULL,
        booking_weekday_utc INT           NOT NULL,
        booking_hour_ist    INT           NOT NULL,
        booking_weekday_ist INT           NOT NULL,
        joined_at           DATETIME2(3)  NOT NULL
    )
    WITH (DISTRIBUTION = HASH(order_id), HEAP);
GO

IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE name = N'pk_fact_seat_payment_clean')
    ALTER TABLE bms.fact_seat_payment_clean
        ADD CONSTRAINT pk_fact_seat_payment_clean
            PRIMARY KEY NONCLUSTERED (payment_event_id, seat_index) NOT ENFORCED;
GO

IF OBJECT_ID(N'bms.fact_order_payment_clean', N'U') IS NULL
    CREATE TABLE bms.fact_order_payment_clean (
        order_id            NVARCHAR(64)  NOT NULL,
        booking_event_id    NVARCHAR(64)  NOT NULL,
        payment_event_id    NVARCHAR(64)  NOT NULL,
        payment_id          NVARCHAR(64)  NOT NULL,
        attempt             INT           NOT NULL,
        customer_id         NVARCHAR(64)  NOT NULL,
        customer_city       NVARCHAR(100) NOT NULL,
        event_id            NVARCHAR(64)  NOT NULL,
        event_name          NVARCHAR(200) NOT NULL,
        event_type          NVARCHAR(20)  NOT NULL,
        event_category      NVARCHAR(20)  NOT NULL,
        event_location      NVARCHAR(100) NOT NULL,
        venue_name          NVARCHAR(200) NOT NULL,
        show_time           DATETIME2(3)  NOT NULL,
        channel             NVARCHAR(20)  NOT NULL,
        seat_count          INT           NOT NULL,
        ticket_subtotal     DECIMAL(12,2) NOT NULL,
        convenience_fee     DECIMAL(12,2) NOT NULL,
        gst_on_fee          DECIMAL(12,2) NOT NULL,
        order_total         DECIMAL(12,2) NOT NULL,
        payment_amount      DECIMAL(12,2) NOT NULL,
        currency            NVARCHAR(3)   NOT NULL,
        payment_method      NVARCHAR(20)  NOT NULL,
        payment_type        NVARCHAR(20)  NOT NULL,
        payment_status      NVARCHAR(10)  NOT NULL,
        failure_reason      NVARCHAR(100) NULL,
        booking_time        DATETIME2(3)  NOT NULL,
        payment_time        DATETIME2(3)  NOT NULL,
        payment_delay_ms    INT           NOT NULL,
        booking_hour_utc    INT           NOT NULL,
        booking_weekday_utc INT           NOT NULL,
        booking_hour_ist    INT           NOT NULL,
        booking_weekday_ist INT           NOT NULL,
        joined_at           DATETIME2(3)  NOT NULL
    )
    WITH (DISTRIBUTION = HASH(order_id), HEAP);
GO

IF NOT EXISTS (SELECT 1 FROM sys.key_constraints WHERE name = N'pk_fact_order_payment_clean')
    ALTER TABLE bms.fact_order_payment_clean
        ADD CONSTRAINT pk_fact_order_payment_clean
            PRIMARY KEY NONCLUSTERED (payment_event_id) NOT ENFORCED;
GO

-- De-duplication: one row per logical key, the earliest write wins (rows of one key are
-- identical except for at-least-once timing).
IF OBJECT_ID(N'bms.v_seat_payment', N'V') IS NOT NULL
    DROP VIEW bms.v_seat_payment;
GO
CREATE VIEW bms.v_seat_payment AS
SELECT
    d.order_id, d.booking_event_id, d.payment_event_id, d.payment_id, d.attempt, d.customer_id,
    d.customer_name, d.customer_email, d.customer_city, d.event_id, d.event_name, d.event_type,
    d.event_category, d.event_location, d.venue_name, d.show_time, d.channel, d.seat_index,
    d.seat_count, d.seat_number, d.seat_category, d.seat_price, d.seat_amount, d.currency,
    d.payment_method, d.payment_type, d.payment_status, d.failure_reason, d.booking_time,
    d.payment_time, d.payment_delay_ms, d.booking_hour_utc, d.booking_weekday_utc,
    d.booking_hour_ist, d.booking_weekday_ist, d.joined_at
FROM (
    SELECT
        s.*,
        ROW_NUMBER() OVER (
            PARTITION BY s.payment_event_id, s.seat_index ORDER BY s.joined_at
        ) AS copy_number
    FROM bms.fact_seat_payment AS s
) AS d
WHERE d.copy_number = 1;
GO

IF OBJECT_ID(N'bms.v_order_payment', N'V') IS NOT NULL
    DROP VIEW bms.v_order_payment;
GO
CREATE VIEW bms.v_order_payment AS
SELECT
    d.order_id, d.booking_event_id, d.payment_event_id, d.payment_id, d.attempt, d.customer_id,
    d.customer_city, d.event_id, d.event_name, d.event_type, d.event_category, d.event_location,
    d.venue_name, d.show_time, d.channel, d.seat_count, d.ticket_subtotal, d.convenience_fee,
    d.gst_on_fee, d.order_total, d.payment_amount, d.currency, d.payment_method, d.payment_type,
    d.payment_status, d.failure_reason, d.booking_time, d.payment_time, d.payment_delay_ms,
    d.booking_hour_utc, d.booking_weekday_utc, d.booking_hour_ist, d.booking_weekday_ist,
    d.joined_at
FROM (
    SELECT
        o.*,
        ROW_NUMBER() OVER (PARTITION BY o.payment_event_id ORDER BY o.joined_at) AS copy_number
    FROM bms.fact_order_payment AS o
) AS d
WHERE d.copy_number = 1;
GO

-- Revenue (successful payments, order grain: each order's amount once) by IST booking day,
-- event category and city (event_location).
IF OBJECT_ID(N'bms.v_revenue_daily', N'V') IS NOT NULL
    DROP VIEW bms.v_revenue_daily;
GO
CREATE VIEW bms.v_revenue_daily AS
SELECT
    CAST(DATEADD(minute, 330, o.booking_time) AS DATE) AS booking_day_ist,
    o.event_category,
    o.event_location AS city,
    COUNT(*) AS paid_orders,
    SUM(o.seat_count) AS seats_sold,
    SUM(o.ticket_subtotal) AS ticket_revenue,
    SUM(o.convenience_fee) AS fee_revenue,
    SUM(o.gst_on_fee) AS gst_collected,
    SUM(o.payment_amount) AS amount_paid
FROM bms.v_order_payment AS o
WHERE o.payment_status = N'Success'
GROUP BY CAST(DATEADD(minute, 330, o.booking_time) AS DATE), o.event_category, o.event_location;
GO

-- Revenue by seat category (seat grain: seat_amount shares sum exactly to the amount paid).
IF OBJECT_ID(N'bms.v_revenue_by_seat_category', N'V') IS NOT NULL
    DROP VIEW bms.v_revenue_by_seat_category;
GO
CREATE VIEW bms.v_revenue_by_seat_category AS
SELECT
    CAST(DATEADD(minute, 330, s.booking_time) AS DATE) AS booking_day_ist,
    s.event_category,
    s.seat_category,
    COUNT(*) AS seats_sold,
    SUM(s.seat_price) AS ticket_revenue,
    SUM(s.seat_amount) AS amount_paid
FROM bms.v_seat_payment AS s
WHERE s.payment_status = N'Success'
GROUP BY CAST(DATEADD(minute, 330, s.booking_time) AS DATE), s.event_category, s.seat_category;
GO

-- Payment success rate per attempt, by IST day and payment type.
IF OBJECT_ID(N'bms.v_payment_success_rate', N'V') IS NOT NULL
    DROP VIEW bms.v_payment_success_rate;
GO
CREATE VIEW bms.v_payment_success_rate AS
SELECT
    CAST(DATEADD(minute, 330, o.payment_time) AS DATE) AS payment_day_ist,
    o.payment_type,
    COUNT(*) AS attempts,
    SUM(CASE WHEN o.payment_status = N'Success' THEN 1 ELSE 0 END) AS successes,
    CAST(SUM(CASE WHEN o.payment_status = N'Success' THEN 1 ELSE 0 END) AS FLOAT)
        / COUNT(*) AS success_rate
FROM bms.v_order_payment AS o
GROUP BY CAST(DATEADD(minute, 330, o.payment_time) AS DATE), o.payment_type;
GO

-- Booking-to-payment delay percentiles of successful payments, by IST booking day.
IF OBJECT_ID(N'bms.v_payment_delay_percentiles', N'V') IS NOT NULL
    DROP VIEW bms.v_payment_delay_percentiles;
GO
CREATE VIEW bms.v_payment_delay_percentiles AS
SELECT DISTINCT
    CAST(DATEADD(minute, 330, o.booking_time) AS DATE) AS booking_day_ist,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY o.payment_delay_ms)
        OVER (PARTITION BY CAST(DATEADD(minute, 330, o.booking_time) AS DATE)) AS p50_delay_ms,
    PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY o.payment_delay_ms)
        OVER (PARTITION BY CAST(DATEADD(minute, 330, o.booking_time) AS DATE)) AS p90_delay_ms,
    PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY o.payment_delay_ms)
        OVER (PARTITION BY CAST(DATEADD(minute, 330, o.booking_time) AS DATE)) AS p99_delay_ms
FROM bms.v_order_payment AS o
WHERE o.payment_status = N'Success';
GO

-- Abandoned orders: joined attempts exist but none succeeded. (An order with no payment
-- attempt at all never reaches these tables; count those from the bookings hub.)
IF OBJECT_ID(N'bms.v_abandoned_orders', N'V') IS NOT NULL
    DROP VIEW bms.v_abandoned_orders;
GO
CREATE VIEW bms.v_abandoned_orders AS
SELECT
    o.order_id,
    MIN(o.booking_time) AS booking_time,
    MIN(o.event_category) AS event_category,
    MIN(o.event_location) AS city,
    MAX(o.order_total) AS order_total,
    COUNT(*) AS failed_attempts,
    MAX(o.payment_time) AS last_attempt_time
FROM bms.v_order_payment AS o
GROUP BY o.order_id
HAVING SUM(CASE WHEN o.payment_status = N'Success' THEN 1 ELSE 0 END) = 0;
GO
