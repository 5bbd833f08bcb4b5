-- Beads by status, kept by a trigger in the writing transaction (SQLite's 0012).
CREATE TABLE bead_counts (
    status TEXT COLLATE "C" PRIMARY KEY,
    n      BIGINT NOT NULL
);
INSERT INTO bead_counts (status, n) SELECT status, count(*) FROM beads GROUP BY status;
CREATE FUNCTION gt_bead_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE bead_counts SET n = n - 1 WHERE status = OLD.status;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO bead_counts (status, n) VALUES (NEW.status, 1)
            ON CONFLICT (status) DO UPDATE SET n = bead_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER bead_counts AFTER INSERT OR DELETE OR UPDATE OF status ON beads
    FOR EACH ROW EXECUTE FUNCTION gt_bead_counts();
