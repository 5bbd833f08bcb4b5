-- Every statement that inserts events notifies channel gt_events when it
-- commits (PostgreSQL folds a transaction's identical notifications into
-- one), so daemons and `gt feed` wake on LISTEN instead of polling.
CREATE FUNCTION gt_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gt_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION gt_notify_events();
