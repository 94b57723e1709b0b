-- One row per customer active in the look-back window (the behavioural feature table).
-- Window: events with ts in [$as_of - $window_days days, $as_of + 1 day), so the
-- snapshot date itself is included up to its last second.
-- Every ratio whose denominator is empty gets a neutral value (0, the window length
-- for intervals, the median basket) so no NULL/NaN leaves this query; the catalog in
-- segmentation/features.py documents each fill.
WITH windowed AS (
    SELECT
        customer_id,
        ts,
        event_type,
        coalesce(amount, 0)  AS amount,
        TRY_CAST(coalesce(amount, 0) AS DECIMAL(38, 6)) AS exact_amount,  -- NULL for NaN, infinity, > 1e32
        CAST(ts AS DATE)     AS day,
        hour(ts)             AS hour_of_day
    FROM events
    WHERE ts >= CAST(CAST($as_of AS DATE) - CAST($window_days AS INTEGER) AS TIMESTAMP)
      AND ts <  CAST(CAST($as_of AS DATE) + 1 AS TIMESTAMP)
      -- split-half reliability (features.feature_reliability): one half of the events, else all
      AND (CAST($half AS INTEGER) IS NULL
           OR hash(customer_id, ts, event_type, channel, category, amount) % 2 = CAST($half AS INTEGER))
),
per_customer AS (
    SELECT
        customer_id,
        count(*)                                              AS n_events,
        -- distinct days as a bitmap of day offsets in the window: much cheaper than count(DISTINCT)
        bit_count(bitstring_agg(date_diff('day', CAST($as_of AS DATE), day) + CAST($window_days AS INTEGER),
                                0, CAST($window_days AS INTEGER)))            AS n_active_days,
        max(day)                                              AS last_day,
        count_if(event_type = 'view')                         AS n_view,
        count_if(event_type = 'search')                       AS n_search,
        count_if(event_type = 'cart')                         AS n_cart,
        count_if(event_type = 'purchase')                     AS n_purchase,
        count_if(event_type = 'refund')                       AS n_refund,
        count_if(event_type = 'email_open')                   AS n_email_open,
        count_if(event_type = 'email_click')                  AS n_email_click,
        count_if(event_type = 'app_open')                     AS n_app_open,
        count_if(event_type = 'store_visit')                  AS n_store_visit,
        count_if(event_type = 'other')                        AS n_other,
        -- summed exactly (DECIMAL): a DOUBLE sum depends on the order the threads add it up in, and the
        -- segments of the same data and seed must not (every fit starts from these values). A customer
        -- with an amount no decimal holds (NaN, infinity) keeps the DOUBLE sum: the feature table fills
        -- what it gives and says so in a note.
        CASE WHEN count_if(event_type = 'purchase' AND exact_amount IS NULL) = 0
             THEN coalesce(CAST(sum(exact_amount) FILTER (WHERE event_type = 'purchase') AS DOUBLE), 0)
             ELSE sum(amount) FILTER (WHERE event_type = 'purchase') END AS purchase_amount,
        bit_count(bitstring_agg(date_diff('day', CAST($as_of AS DATE), day) + CAST($window_days AS INTEGER),
                                0, CAST($window_days AS INTEGER))
                  FILTER (WHERE event_type = 'purchase'))                   AS n_purchase_days,
        min(day) FILTER (WHERE event_type = 'purchase')                 AS first_purchase_day,
        max(day) FILTER (WHERE event_type = 'purchase')                 AS last_purchase_day,
        count_if(hour_of_day < 6)                             AS n_night,
        count_if(hour_of_day >= 6 AND hour_of_day < 12)       AS n_morning,
        count_if(hour_of_day >= 12 AND hour_of_day < 18)      AS n_afternoon,
        count_if(hour_of_day >= 18)                           AS n_evening,
        count_if(isodow(ts) >= 6)                             AS n_weekend,
        -- the recent half starts half the window length before the window's end
        count_if(epoch(ts) >= epoch(CAST(CAST($as_of AS DATE) + 1 AS TIMESTAMP))
                              - (CAST($window_days AS DOUBLE) + 1) * 43200.0) AS n_recent
    FROM windowed
    GROUP BY customer_id
)
SELECT
    customer_id,
    CAST(date_diff('day', last_day, CAST($as_of AS DATE)) AS DOUBLE)   AS recency_days,
    CAST(n_events AS DOUBLE)                                           AS frequency,
    CAST(n_active_days AS DOUBLE)                                      AS active_days,
    CAST(n_purchase AS DOUBLE)                                         AS n_purchases,
    purchase_amount                                                    AS monetary,
    -- non-buyers get the median basket of the buyers: a zero would make them look like a
    -- group of their own (zero-value baskets) and split otherwise alike customers
    coalesce(purchase_amount / nullif(n_purchase, 0),
             median(purchase_amount / nullif(n_purchase, 0)) OVER (), 0) AS avg_basket,
    CASE WHEN n_purchase_days >= 2
         THEN date_diff('day', first_purchase_day, last_purchase_day) / (n_purchase_days - 1.0)
         ELSE CAST($window_days AS DOUBLE) END                         AS purchase_interval_days,
    -- Rates of a few events are shrunk toward the population's rate (empirical Bayes with two
    -- pseudo-events): one purchase and one refund is not a refund rate of 100 %, and a customer
    -- with no purchase is not a customer who never returns. Without it the 0/1 extremes of
    -- small denominators split one behaviour into "twins" (measured on the change suite).
    least((n_purchase + 2.0 * rate_conversion) / (n_view + 2.0), 1.0)  AS conversion,
    (greatest(n_cart - n_purchase, 0) + 2.0 * rate_abandonment) / (n_cart + 2.0) AS cart_abandonment,
    least((n_refund + 2.0 * rate_refund) / (n_purchase + 2.0), 1.0)    AS refund_rate,
    n_email_open * 30.0 / (CAST($window_days AS DOUBLE) + 1)           AS email_open_rate,
    least((n_email_click + 2.0 * rate_click) / (n_email_open + 2.0), 1.0) AS email_click_rate,
    n_view        / n_events AS event_view,
    n_search      / n_events AS event_search,
    n_cart        / n_events AS event_cart,
    n_purchase    / n_events AS event_purchase,
    n_refund      / n_events AS event_refund,
    n_email_open  / n_events AS event_email_open,
    n_email_click / n_events AS event_email_click,
    n_app_open    / n_events AS event_app_open,
    n_store_visit / n_events AS event_store_visit,
    n_other       / n_events AS event_other,
    n_night       / n_events AS time_night,
    n_morning     / n_events AS time_morning,
    n_afternoon   / n_events AS time_afternoon,
    n_evening     / n_events AS time_evening,
    n_weekend     / n_events AS weekend,
    n_recent      / n_events AS trend
FROM (
    SELECT *,
           coalesce(least(sum(n_purchase) OVER () / nullif(sum(n_view) OVER (), 0), 1.0), 0.5) AS rate_conversion,
           coalesce(sum(greatest(n_cart - n_purchase, 0)) OVER () / nullif(sum(n_cart) OVER (), 0), 0.5)
                                                                             AS rate_abandonment,
           coalesce(least(sum(n_refund) OVER () / nullif(sum(n_purchase) OVER (), 0), 1.0), 0.0) AS rate_refund,
           coalesce(least(sum(n_email_click) OVER () / nullif(sum(n_email_open) OVER (), 0), 1.0), 0.0) AS rate_click
    FROM per_customer
) AS per_customer
ORDER BY customer_id
