-- Each look of the catalog watch reads the week's team figures to compare with: by week,
-- without reading every week ever kept.
CREATE INDEX team_scores_by_week ON team_scores (week);
