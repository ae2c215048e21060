"""Names the tests expect, written out once here rather than read from the code under test,
so that a baseline added or lost shows up as a failing test."""

#: The translation baselines every evaluation fits, in table order (``pca`` has latents only).
TRANSLATION_BASELINES = (
    "mean",
    "knn",
    "ridge",
    "reduced_rank_ridge",
    "reduced_rank_ridge_depth",
    "kernel_ridge",
    "cluster_profile",
    "per_type_ridge",
)

#: Of those, the baselines that translate RNA -> ATAC only (no ATAC -> RNA genes).
PEAK_ONLY_BASELINES = ("reduced_rank_ridge_depth",)

#: The baselines that also translate ATAC -> RNA, in table order.
GENE_BASELINES = tuple(n for n in TRANSLATION_BASELINES if n not in PEAK_ONLY_BASELINES)
