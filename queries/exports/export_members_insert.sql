-- Remember which customers a full export holds (the registered frame staged_export_members).
INSERT INTO export_members (export_id, customer_id)
SELECT $export_id, customer_id FROM staged_export_members
