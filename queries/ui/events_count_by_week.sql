-- Events per week by event type and by channel (the Data page's mix over time).
SELECT date_trunc('week', ts)::DATE AS week,
       event_type,
       coalesce(channel, 'unknown') AS channel,
       count(*) AS events
FROM events
GROUP BY ALL
ORDER BY week, event_type, channel
