-- Beads by status, kept by triggers in the writing transaction (issue 16):
-- `gt status` reads these few rows instead of counting the beads table.
CREATE TABLE bead_counts (
    status TEXT PRIMARY KEY,
    n      INTEGER NOT NULL
);
INSERT INTO bead_counts (status, n) SELECT status, count(*) FROM beads GROUP BY status;
CREATE TRIGGER bead_counts_insert AFTER INSERT ON beads BEGIN
    INSERT INTO bead_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER bead_counts_delete AFTER DELETE ON beads BEGIN
    UPDATE bead_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER bead_counts_update AFTER UPDATE OF status ON beads
    WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE bead_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO bead_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
