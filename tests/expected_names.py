"""Names the tests expect, written out once here rather than read from the code under test,
so that a baseline added or lost shows up as a failing test."""

#: The translation baselines every evaluation fits, in table order (``pca`` has latents only).
TRANSLATION_BASELINES = (
    "mean",
    "knn",
    "ridge",
    "reduced_rank_ridge",
    "cluster_profile",
    "per_type_ridge",
)
