-- Temporal's auto-setup creates its own databases (temporal, temporal_visibility) with the same user.
SELECT 1;
