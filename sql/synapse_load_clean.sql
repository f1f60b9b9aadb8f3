-- bms-stream: load the curated tables from the landing tables, one row per logical key.
--
-- Run after sql/synapse_create_table.sql, as often as BI needs (e.g. a scheduled pipeline or
-- `python -m bms_core sql apply --connection "..." --script sql/synapse_load_clean.sql`), one
-- run at a time. Each run inserts, from the de-duplicating views, only the keys the curated
-- table does not hold yet, so running it again inserts nothing and the tables'
-- PRIMARY KEY NONCLUSTERED ... NOT ENFORCED stays true. A copy of a row that ASA writes again
-- after its key was loaded is left in the landing table only.
--
-- Run it as a loader principal, not as the Stream Analytics job: the job's user
-- (sql/synapse_asa_user.sql) has no access to the curated tables or the views.

INSERT INTO bms.fact_seat_payment_clean (
    order_id, booking_event_id, payment_event_id, payment_id, attempt, customer_id,
    customer_name, customer_email, customer_city, event_id, event_name, event_type,
    event_category, event_location, venue_name, show_time, channel, seat_index, seat_count,
    seat_number, seat_category, seat_price, seat_amount, currency, payment_method, payment_type,
    payment_status, failure_reason, booking_time, payment_time, payment_delay_ms,
    booking_hour_utc, booking_weekday_utc, booking_hour_ist, booking_weekday_ist, joined_at
)
SELECT
    v.order_id, v.booking_event_id, v.payment_event_id, v.payment_id, v.attempt, v.customer_id,
    v.customer_name, v.customer_email, v.customer_city, v.event_id, v.event_name, v.event_type,
    v.event_category, v.event_location, v.venue_name, v.show_time, v.channel, v.seat_index,
    v.seat_count, v.seat_number, v.seat_category, v.seat_price, v.seat_amount, v.currency,
    v.payment_method, v.payment_type, v.payment_status, v.failure_reason, v.booking_time,
    v.payment_time, v.payment_delay_ms, v.booking_hour_utc, v.booking_weekday_utc,
    v.booking_hour_ist, v.booking_weekday_ist, v.joined_at
FROM bms.v_seat_payment AS v
WHERE NOT EXISTS (
    SELECT 1
    FROM bms.fact_seat_payment_clean AS c
    WHERE c.payment_event_id = v.payment_event_id AND c.seat_index = v.seat_index
);
GO

INSERT INTO bms.fact_order_payment_clean (
    order_id, booking_event_id, payment_event_id, payment_id, attempt, customer_id,
    customer_city, event_id, event_name, event_type, event_category, event_location,
    venue_name, show_time, channel, seat_count, ticket_subtotal, convenience_fee, gst_on_fee,
    order_total, payment_amount, currency, payment_method, payment_type, payment_status,
    failure_reason, booking_time, payment_time, payment_delay_ms, booking_hour_utc,
    booking_weekday_utc, booking_hour_ist, booking_weekday_ist, joined_at
)
SELECT
    v.order_id, v.booking_event_id, v.payment_event_id, v.payment_id, v.attempt, v.customer_id,
    v.customer_city, v.event_id, v.event_name, v.event_type, v.event_category, v.event_location,
    v.venue_name, v.show_time, v.channel, v.seat_count, v.ticket_subtotal, v.convenience_fee,
    v.gst_on_fee, v.order_total, v.payment_amount, v.currency, v.payment_method, v.payment_type,
    v.payment_status, v.failure_reason, v.booking_time, v.payment_time, v.payment_delay_ms,
    v.booking_hour_utc, v.booking_weekday_utc, v.booking_hour_ist, v.booking_weekday_ist,
    v.joined_at
FROM bms.v_order_payment AS v
WHERE NOT EXISTS (
    SELECT 1
    FROM bms.fact_order_payment_clean AS c
    WHERE c.payment_event_id = v.payment_event_id
);
GO
