"""The built-in dataset: PBMC-like paired RNA + ATAC with planted gene -> peak links.

``simulate(out_dir, shape)`` writes what Cell Ranger ARC writes (``filtered_feature_bc_matrix.h5``
with both modalities, ``atac_peaks.bed``, ``per_barcode_metrics.csv``, optionally
``atac_fragments.tsv.gz`` + ``.tbi``) plus the truth: ``ground_truth_links.tsv``,
``cell_types.tsv`` and ``gene_annotation.tsv``. The real reading path runs on it unchanged.

Generative model (one cell ``c`` of type ``t``)
-------------------------------------------------
Cells. Eight PBMC types (CD4 T, CD8 T, NK, B, CD14 Mono, FCGR3A Mono, cDC, pDC) in
proportions like a granulocyte-sorted PBMC multiome sample. Each cell has a library factor
``s_c`` (log-normal, larger for myeloid cells), four continuous programs ``u_c ~ N(0, I)``
(activation, interferon, ... shared by genes and a few peaks), a mitochondrial fraction
``f_c`` (nuclei: a few percent; ~3% damaged cells at 28-60%, with smaller libraries), a
ribosomal multiplier and a rare haemoglobin (ambient RBC) multiplier.

RNA. Gene ``g`` has a level ``m_tg`` (UMIs at the median library) per type: PBMC marker
genes (CD3E, IL7R, CD8B, NKG7, GNLY, CD79A, MS4A1, CD14, LYZ, FCGR3A, ...), housekeeping,
MT-, RPS/RPL and HB genes at hand-set levels with real hg38 coordinates; the other genes
("GENE00001", random hg38-like positions) draw levels from a heavy-tailed distribution
calibrated on PBMC 10k multiome (about a third of genes are almost never detected), with
type-specific modules. The cell's *expression level* is
``x_cg = m_tg * exp(L_g . u_c) * G_cg`` with ``G_cg ~ Gamma(r_g, 1/r_g)`` (gene- and
cell-specific, so it varies continuously within a type), and counts are
``Poisson(s_c * x_cg)`` -- i.e. negative binomial with size ``r_g`` (log-normal around 3;
1.5 for the driver genes of planted links, whose ``G_cg`` is drawn explicitly).

ATAC. Peak ``p`` has a base logit ``a_p``, type effects ``T_tp`` (type- or lineage-specific
peaks; the promoter peak of a gene mirrors that gene's type profile), program loadings
``M_p`` and a capture strength ``k_p``; the cell has an ATAC depth ``d_c``. The chromatin of
a peak is open with probability ``pi_cp = sigmoid(a_p + T_tp + M_p . u_c + link_cp)``, Tn5
fragments are ``n_cp ~ Poisson(d_c * k_p * pi_cp)`` and each fragment contributes two cut
sites inside the peak (probability 0.92) or one (it straddles the edge): the matrix holds
cut-site counts as ARC does (mostly 2, 4, ...).

Planted links. ``driver`` genes (always NKG7, CD79A, FCGR3A, CD8B, IL7R, CD3E, MS4A1, CD14,
then more markers and expressed genes) each open or close a few peaks:
``link_cp = effect * (e_cg - mean_c e_cg)`` with ``e_cg = log1p(x_cg)``, the cell's *own*
log1p normalised expression (approximately the model input space). So a linked peak follows the gene cell
by cell *within* a type, not only between types; planted peaks have no type effect of their
own. Effects are signed logit changes per unit of log1p expression (|effect| 1.5-3.0;
promoter links positive, enhancer links 75% positive). Each driver gets a planted promoter
peak (60%; always for the eight markers above), 1-3 planted enhancers (2-3 for the eight
markers) within +-100 kb of its TSS, in 35% of drivers a distal (>150 kb or other chromosome) planted peak,
and 3-5 non-responding peaks in the same window, one of which copies the driver's type
profile (a type-confounded null: correlated with the gene across types, not within).

``ground_truth_links.tsv`` columns: ``gene, peak`` (``chr1:100-600``), ``effect`` (logit
change per log1p unit; 0 for nulls), ``planted`` (bool), ``kind`` (``promoter``, ``cis``,
``distal`` for planted links; ``null_cis``, ``null_type_matched``, ``null_distal``),
``chrom``, ``distance_to_tss`` (peak centre minus the gene's TSS in bp; empty on another
chromosome). A planted link's kind follows its final distance: promoter (<= 2.5 kb),
cis (<= 100 kb), distal. For every driver it lists every peak within +-100 kb of the TSS,
its planted distal peak and 20 random distal nulls; any peak not listed as planted for a
gene has effect 0 for it, so AUPRC over all peaks (or over the listed candidates) is well
defined. A peak is planted for at most one gene.

Shapes. ``pbmc3k`` / ``pbmc10k`` simulate every gene of the 10x GRCh38 reference and every
peak of the real sample, with per-cell statistics calibrated on the PBMC 10k subset
(``benchmarks/simulator_calibration.py``); ``pbmc10k`` leaves about 10,150 cells x 25,600
genes x 43,000 peaks after the default preparation filters. ``tiny`` and ``small`` keep a
feature subset biased to expressed genes and accessible peaks, like a feature-selected data
set, with MT / ribosomal fractions matched to their own library so QC removes a few percent.

Everything is drawn from one ``numpy.random.Generator(seed)`` in a fixed order; the count
matrix is generated in blocks of cells (never a dense cells x peaks float64 array) and
streamed into the h5 file, so the same seed gives byte-identical output.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak._utils import atomic_path, log, make_module_callable, progress
from genepeak.errors import ConfigError, InputError
from genepeak.io.tenx_write import TenxH5Writer

# --------------------------------------------------------------------------- genome

#: hg38 chromosome lengths (chrM last, as in the 10x reference), plus unplaced contigs.
CHROM_SIZES: dict[str, int] = {
    "chr1": 248956422,
    "chr2": 242193529,
    "chr3": 198295559,
    "chr4": 190214555,
    "chr5": 181538259,
    "chr6": 170805979,
    "chr7": 159345973,
    "chr8": 145138636,
    "chr9": 138394717,
    "chr10": 133797422,
    "chr11": 135086622,
    "chr12": 133275309,
    "chr13": 114364328,
    "chr14": 107043718,
    "chr15": 101991189,
    "chr16": 90338345,
    "chr17": 83257441,
    "chr18": 80373285,
    "chr19": 58617616,
    "chr20": 64444167,
    "chr21": 46709983,
    "chr22": 50818468,
    "chrX": 156040895,
    "chrY": 57227415,
    "chrM": 16569,
}
NONSTANDARD_CONTIGS: dict[str, int] = {
    "GL000194.1": 191469,
    "GL000205.2": 185591,
    "KI270713.1": 40745,
    "KI270726.1": 43739,
    "KI270728.1": 1872759,
    "KI270734.1": 165050,
}
STANDARD = [c for c in CHROM_SIZES if c != "chrM"]
CHROM_ORDER = {c: i for i, c in enumerate([*CHROM_SIZES, *NONSTANDARD_CONTIGS])}
#: genes per chromosome in hg38 (org.Hs.eg.db), used as placement weights for genes
GENE_DENSITY = np.array(
    [
        2877,
        1843,
        1564,
        1090,
        1325,
        1454,
        1378,
        1052,
        1128,
        1116,
        1680,
        1394,
        631,
        964,
        1036,
        1183,
        1591,
        430,
        1801,
        780,
        430,
        646,
        1220,
        198,
    ],
    dtype=float,
)

# --------------------------------------------------------------------------- cell types

CELL_TYPES = ("CD4 T", "CD8 T", "NK", "B", "CD14 Mono", "FCGR3A Mono", "cDC", "pDC")
TYPE_PROPORTIONS = np.array([0.30, 0.14, 0.07, 0.11, 0.29, 0.05, 0.025, 0.015])
TYPE_LIBRARY = np.array([0.9, 0.95, 0.95, 1.0, 1.3, 1.25, 1.3, 1.1])
LINEAGES = (
    ("CD4 T", "CD8 T", "NK"),
    ("CD4 T", "CD8 T"),
    ("CD14 Mono", "FCGR3A Mono", "cDC"),
    ("CD14 Mono", "FCGR3A Mono"),
    ("B", "pDC"),
)

#: named genes: symbol, chrom, start (0-based), end, strand -- real hg38 coordinates
_NAMED_COORDS = """
ISG15 chr1 1013496 1014539 + RPL22 chr1 6185019 6199595 - RPL11 chr1 23691778 23696835 +
IFI6 chr1 27666063 27672192 - RPS8 chr1 44775539 44778779 + RPL5 chr1 92831985 92841924 +
DPYD chr1 97077743 97921059 - CDC14A chr1 100345014 100520277 + CD2 chr1 116754429 116769229 +
S100A9 chr1 153357853 153361023 + S100A8 chr1 153390031 153422583 - RPS27 chr1 153990754 153992155 +
CD1C chr1 158289922 158294774 + FCER1A chr1 159289713 159308224 + FCER1G chr1 161215294 161219245 +
FCGR3A chr1 161541760 161550737 - SELL chr1 169690666 169711620 - ITGB1 chr10 32900317 32958230 -
ANK3 chr10 60026297 60733528 - PRF1 chr10 70597347 70602788 - RPS24 chr10 78033759 78056806 +
TCF7L2 chr10 112950246 113167677 + RPL21 chr10 120354660 120355223 - MKI67 chr10 128096660 128126423 -
CDKN1C chr11 2883217 2885775 - HBB chr11 5225463 5227071 - HBD chr11 5232837 5234483 -
HBG1 chr11 5248268 5249857 - HBG2 chr11 5253187 5254781 - HBE1 chr11 5268345 5269945 -
RPL27A chr11 8682791 8689872 + RPS13 chr11 17074387 17077667 - MS4A7 chr11 60378484 60395953 +
MS4A1 chr11 60455808 60470752 + FAU chr11 65120629 65122134 - NEAT1 chr11 65422797 65445538 +
MALAT1 chr11 65497737 65506512 + RPS3 chr11 75399490 75422301 + NCAM1 chr11 112961419 113278436 +
CD3E chr11 118304729 118316173 + CD3D chr11 118338953 118342705 - CD3G chr11 118344343 118355161 +
RPS25 chr11 119015717 119018343 - CD4 chr12 6789527 6820799 + CLEC4C chr12 7729382 7749541 -
KLRB1 chr12 9594550 9607916 - KLRF1 chr12 9800051 9845004 + KLRD1 chr12 10238960 10329608 +
RPS26 chr12 56041917 56044697 + RPL41 chr12 56116632 56117967 + LYZ chr12 69348380 69354234 +
RPL6 chr12 112405180 112418835 - GZMH chr14 24606479 24609685 - GZMB chr14 24630955 24634190 -
RPS29 chr14 49570987 49598710 - SYNE2 chr14 63853003 64226451 + TCL1A chr14 95709946 95714125 -
BCL11B chr14 99169287 99272197 - TRAC chr14 22547505 22552156 + IGHD chr14 105836764 105845678 -
IGHM chr14 105851707 105856218 - B2M chr15 44711516 44718145 + RPL4 chr15 66498014 66504855 -
RPS17 chr15 82536749 82540457 - HBZ chr16 152643 154503 + HBM chr16 165977 166764 +
HBA2 chr16 172875 173710 + HBA1 chr16 176679 177522 + HBQ1 chr16 180458 181179 +
RPS2 chr16 1962057 1964826 - IL32 chr16 3065402 3069530 + RPS15A chr16 18781294 18790334 -
IL4R chr16 27313973 27364778 + ITGAM chr16 31259974 31332877 + IRF8 chr16 85899161 85922609 +
RPL13 chr16 89560656 89566829 + CLEC10A chr17 7074536 7080251 - RPL26 chr17 8377515 8383193 -
RPL23A chr17 28719984 28724359 + CCL5 chr17 35871490 35880360 - RPL23 chr17 38847859 38853721 -
RPL19 chr17 39200282 39204732 + TOP2A chr17 40388524 40417896 - CCR7 chr17 40553769 40565472 -
RPL27 chr17 42998272 43002954 + CD79B chr17 63928739 63932331 - RPL38 chr17 74203677 74210655 +
RPL17 chr18 49488480 49492465 - TCF4 chr18 55222184 55635957 - RPS15 chr19 1438395 1440495 +
RPL36 chr19 5690294 5691875 + RPS28 chr19 8321495 8323340 + RPL18A chr19 17859909 17863319 +
RPS16 chr19 39433136 39435949 - RPS19 chr19 41860254 41872925 + CD79A chr19 41877278 41881372 +
RPL18 chr19 48615330 48619178 - RPL13A chr19 49487553 49492307 + RPS11 chr19 49496433 49499708 +
NKG7 chr19 51371619 51372654 - RPS9 chr19 54200857 54207647 + LILRA4 chr19 54333184 54339162 -
RPL28 chr19 55385931 55403342 + RPS5 chr19 58387268 58394804 + RPS7 chr2 3575259 3580920 +
SLC8A1 chr2 40094523 40512435 - RPS27A chr2 55231902 55235853 + TMSB10 chr2 84905655 84906671 +
GNLY chr2 85694357 85698852 + CD8A chr2 86784604 86808396 - CD8B chr2 86815336 86861924 -
MAL chr2 95025654 95053992 + RPL31 chr2 101002228 101019693 + ZEB2 chr2 144384080 144520119 -
SLC4A10 chr2 161624334 161985276 + CTLA4 chr2 203867770 203873965 + RPL37A chr2 216498843 216504086 +
CST3 chr20 23626705 23637955 - RPS21 chr20 62387102 62388520 + RPL3 chr22 39312881 39319623 -
RPL32 chr3 12834485 12841582 - RPL15 chr3 23916544 23924631 + RPL14 chr3 40457338 40468587 +
RPL29 chr3 51993521 51995895 - FOXP1 chr3 70954709 71583978 - RPL24 chr3 101681090 101686718 -
MBNL1 chr3 152243631 152465780 + RPL35A chr3 197950189 197956610 + RPL9 chr4 39454124 39458948 -
PF4 chr4 73980814 73982124 - PPBP chr4 73986438 73988190 - BANK1 chr4 101790606 102074812 +
LEF1 chr4 108047544 108168956 - RPL34 chr4 108620557 108630483 + MAML3 chr4 139716752 140154184 -
INPP4B chr4 142023159 142846535 - RPS3A chr4 151099572 151104642 + IL7R chr5 35856890 35879603 +
FYB1 chr5 39105251 39270649 - RPL37 chr5 40825262 40835222 - GZMK chr5 55024255 55034569 +
GZMA chr5 55102645 55110252 + RPS23 chr5 82273319 82278354 - VCAN chr5 83471673 83582303 +
TCF7 chr5 134114680 134148229 + CD14 chr5 140631727 140633701 - CD74 chr5 150400040 150412936 -
RPS14 chr5 150442634 150449739 - SOX4 chr6 21593750 21598618 + HLA-B chr6 31353874 31357179 -
LTB chr6 31580558 31582425 - LST1 chr6 31586276 31588909 + AIF1 chr6 31615233 31617015 +
HLA-DQA1 chr6 32637405 32643682 + RPS18 chr6 33272074 33276511 + RPS10 chr6 34417453 34426069 -
RPL10A chr6 35468400 35470780 + EEF1A1 chr6 73515749 73521032 - RPS12 chr6 132814568 132817564 +
UTRN chr6 144291736 144853034 + ACTB chr7 5527147 5530601 - CDK6 chr7 92604920 92836573 -
HBP1 chr7 107168960 107202529 + RPS20 chr8 56067294 56074506 - RPL7 chr8 73290241 73294466 -
RPL30 chr8 98041723 98045545 - RPL8 chr8 144789768 144792390 - RPS6 chr9 19375715 19380236 -
PAX5 chr9 36833270 37034268 - KLF4 chr9 107484851 107489769 - RPL35 chr9 124857882 124861957 -
RPL12 chr9 127447673 127451406 - RPL7A chr9 133348217 133351426 + FCN1 chr9 134903231 134917912 -
IL3RA chrX 1336615 1382689 + TMSB4X chrX 12975109 12977220 + FOXP3 chrX 49250437 49264710 -
RPS4X chrX 72272042 72277248 - RPL36A chrX 101391010 101396155 + RPL39 chrX 119786503 119791630 -
RPL10 chrX 154398064 154402339 + RPS4Y1 chrY 2841601 2867267 +
MT-ND1 chrM 3306 4262 + MT-ND2 chrM 4469 5511 + MT-CO1 chrM 5903 7445 + MT-CO2 chrM 7585 8269 +
MT-ATP8 chrM 8365 8572 + MT-ATP6 chrM 8526 9207 + MT-CO3 chrM 9206 9990 + MT-ND3 chrM 10058 10404 +
MT-ND4L chrM 10469 10766 + MT-ND4 chrM 10759 12137 + MT-ND5 chrM 12336 14148 + MT-ND6 chrM 14148 14673 -
MT-CYB chrM 14746 15887 +
"""

#: UMIs per cell at the median library: (level in other types, {type: level})
_EXPRESSION: dict[str, tuple[float, dict[str, float]]] = {
    # T cells
    "CD3E": (0.05, {"CD4 T": 3.0, "CD8 T": 3.0, "NK": 0.4}),
    "CD3D": (0.05, {"CD4 T": 2.5, "CD8 T": 2.5}),
    "CD3G": (0.05, {"CD4 T": 1.5, "CD8 T": 1.5}),
    "CD2": (0.05, {"CD4 T": 2.0, "CD8 T": 2.5, "NK": 1.5}),
    "IL7R": (0.05, {"CD4 T": 4.0, "CD8 T": 1.0}),
    "CD4": (0.05, {"CD4 T": 1.2, "CD14 Mono": 0.8, "FCGR3A Mono": 0.5, "cDC": 0.6}),
    "CCR7": (0.03, {"CD4 T": 1.5, "CD8 T": 1.0, "B": 0.5}),
    "LEF1": (0.1, {"CD4 T": 3.0, "CD8 T": 2.5}),
    "TCF7": (0.1, {"CD4 T": 2.5, "CD8 T": 2.0}),
    "SELL": (0.1, {"CD4 T": 1.0, "CD8 T": 1.0, "B": 0.8}),
    "MAL": (0.03, {"CD4 T": 1.0}),
    "LTB": (0.1, {"CD4 T": 2.0, "CD8 T": 1.0, "B": 1.0}),
    "TRAC": (0.05, {"CD4 T": 2.0, "CD8 T": 2.0}),
    "BCL11B": (0.1, {"CD4 T": 4.0, "CD8 T": 4.0, "NK": 0.5}),
    "IL32": (0.1, {"CD4 T": 2.0, "CD8 T": 2.5, "NK": 1.0}),
    "INPP4B": (0.2, {"CD4 T": 3.0, "CD8 T": 1.5}),
    "ANK3": (0.2, {"CD4 T": 2.5, "CD8 T": 2.0}),
    "MAML3": (0.3, {"CD4 T": 1.5, "CD8 T": 1.5, "NK": 1.0}),
    "ITGB1": (0.5, {"CD4 T": 1.5}),
    "FOXP3": (0.02, {"CD4 T": 0.2}),
    "CTLA4": (0.02, {"CD4 T": 0.3}),
    "KLRB1": (0.05, {"CD4 T": 0.5, "CD8 T": 1.0, "NK": 1.0}),
    "SLC4A10": (0.02, {"CD8 T": 0.6}),
    "CD8A": (0.02, {"CD8 T": 2.5}),
    "CD8B": (0.02, {"CD8 T": 3.0}),
    "GZMK": (0.02, {"CD8 T": 1.5, "NK": 0.5}),
    "GZMH": (0.02, {"CD8 T": 1.0, "NK": 1.0}),
    "CCL5": (0.05, {"CD8 T": 5.0, "NK": 4.0}),
    # NK
    "NKG7": (0.1, {"NK": 18.0, "CD8 T": 5.0}),
    "GNLY": (0.1, {"NK": 15.0, "CD8 T": 2.0}),
    "KLRD1": (0.05, {"NK": 3.0, "CD8 T": 0.5}),
    "KLRF1": (0.02, {"NK": 2.0}),
    "PRF1": (0.05, {"NK": 4.0, "CD8 T": 1.0}),
    "GZMB": (0.05, {"NK": 6.0, "pDC": 2.0}),
    "GZMA": (0.05, {"NK": 3.0, "CD8 T": 1.5}),
    "NCAM1": (0.02, {"NK": 1.5}),
    # B
    "CD79A": (0.05, {"B": 6.0}),
    "CD79B": (0.05, {"B": 4.0}),
    "MS4A1": (0.03, {"B": 3.0}),
    "BANK1": (0.1, {"B": 5.0}),
    "PAX5": (0.05, {"B": 3.0}),
    "IGHM": (0.1, {"B": 6.0}),
    "IGHD": (0.05, {"B": 3.0}),
    "TCL1A": (0.02, {"B": 3.0, "pDC": 1.0}),
    "IL4R": (0.3, {"B": 1.5}),
    # monocytes and DCs
    "CD14": (0.05, {"CD14 Mono": 3.0, "FCGR3A Mono": 0.5}),
    "LYZ": (0.3, {"CD14 Mono": 20.0, "FCGR3A Mono": 8.0, "cDC": 10.0}),
    "S100A8": (0.2, {"CD14 Mono": 10.0, "FCGR3A Mono": 2.0}),
    "S100A9": (0.3, {"CD14 Mono": 15.0, "FCGR3A Mono": 4.0}),
    "VCAN": (0.1, {"CD14 Mono": 6.0}),
    "SLC8A1": (0.3, {"CD14 Mono": 5.0, "FCGR3A Mono": 3.0}),
    "KLF4": (0.1, {"CD14 Mono": 2.0}),
    "ITGAM": (0.1, {"CD14 Mono": 1.5}),
    "FCN1": (0.1, {"CD14 Mono": 5.0, "FCGR3A Mono": 3.0}),
    "CST3": (0.2, {"CD14 Mono": 6.0, "FCGR3A Mono": 5.0, "cDC": 8.0, "pDC": 2.0}),
    "FCGR3A": (0.05, {"FCGR3A Mono": 4.0, "NK": 2.5}),
    "MS4A7": (0.05, {"FCGR3A Mono": 3.0, "CD14 Mono": 1.0}),
    "CDKN1C": (0.05, {"FCGR3A Mono": 2.5}),
    "TCF7L2": (0.3, {"FCGR3A Mono": 4.0}),
    "LST1": (0.2, {"FCGR3A Mono": 3.0, "CD14 Mono": 2.0}),
    "AIF1": (0.2, {"FCGR3A Mono": 3.0, "CD14 Mono": 3.0, "cDC": 2.0}),
    "FCER1G": (0.2, {"FCGR3A Mono": 3.0, "CD14 Mono": 3.0, "NK": 2.0}),
    "CD1C": (0.01, {"cDC": 2.0}),
    "FCER1A": (0.02, {"cDC": 2.5}),
    "CLEC10A": (0.02, {"cDC": 3.0}),
    "HLA-DQA1": (0.1, {"B": 2.0, "cDC": 3.0, "CD14 Mono": 1.0}),
    "CD74": (2.0, {"B": 20.0, "cDC": 25.0, "pDC": 15.0, "CD14 Mono": 15.0, "FCGR3A Mono": 12.0}),
    "CLEC4C": (0.01, {"pDC": 2.0}),
    "LILRA4": (0.01, {"pDC": 3.0}),
    "IL3RA": (0.05, {"pDC": 2.0}),
    "TCF4": (0.2, {"pDC": 6.0, "B": 1.5}),
    "IRF8": (0.1, {"B": 1.5, "pDC": 4.0, "cDC": 3.0, "CD14 Mono": 1.0}),
    "SOX4": (0.2, {"pDC": 2.0}),
    "CDK6": (0.5, {"pDC": 2.0}),
    "ZEB2": (3.0, {"CD14 Mono": 8.0, "FCGR3A Mono": 8.0, "NK": 6.0}),
    "DPYD": (5.0, {"CD14 Mono": 10.0, "FCGR3A Mono": 8.0}),
    "CDC14A": (0.3, {"CD4 T": 0.8, "B": 0.8}),
    # housekeeping, nuclear, interferon, cycling, platelets
    "MALAT1": (150.0, {}),
    "NEAT1": (20.0, {"CD14 Mono": 40.0}),
    "ACTB": (15.0, {}),
    "EEF1A1": (20.0, {}),
    "TMSB4X": (25.0, {}),
    "B2M": (30.0, {}),
    "HLA-B": (10.0, {}),
    "TMSB10": (8.0, {}),
    "FAU": (5.0, {}),
    "FOXP1": (6.0, {"B": 10.0}),
    "MBNL1": (6.0, {}),
    "UTRN": (4.0, {}),
    "FYB1": (4.0, {"CD4 T": 6.0}),
    "SYNE2": (4.0, {}),
    "ISG15": (0.5, {}),
    "IFI6": (0.3, {}),
    "MKI67": (0.1, {}),
    "TOP2A": (0.1, {}),
    "PPBP": (0.02, {}),
    "PF4": (0.02, {}),
    "HBP1": (1.5, {}),
}
#: haemoglobin genes (ambient RBC RNA): baseline UMIs per cell
_HB_LEVELS = {
    "HBA1": 0.05,
    "HBA2": 0.05,
    "HBB": 0.1,
    "HBD": 0.01,
    "HBG1": 0.005,
    "HBG2": 0.005,
    "HBM": 0.005,
    "HBQ1": 0.005,
    "HBZ": 0.002,
    "HBE1": 0.002,
}
#: the markers the explain experiments perturb: always drivers of planted links
REQUIRED_DRIVERS = ("NKG7", "CD79A", "FCGR3A", "CD8B", "IL7R", "CD3E", "MS4A1", "CD14")
EXTRA_DRIVERS = (
    "GNLY",
    "LYZ",
    "CD8A",
    "CCR7",
    "S100A8",
    "CD79B",
    "GZMB",
    "LEF1",
    "TCF7",
    "CST3",
    "MS4A7",
    "KLRD1",
    "BANK1",
    "CCL5",
    "IL32",
    "TCF4",
    "VCAN",
    "CD74",
)

# --------------------------------------------------------------------------- shapes and constants


@dataclass(frozen=True)
class _Shape:
    n_cells: int
    n_genes: int
    n_peaks: int
    n_drivers: int
    full: bool  # every gene / peak of a genome (else: a subset biased to expressed features)


SHAPES: dict[str, _Shape] = {
    "tiny": _Shape(300, 1500, 2500, 16, full=False),
    "small": _Shape(1800, 4000, 7000, 48, full=False),
    "pbmc3k": _Shape(2711, 36601, 98319, 300, full=True),
    "pbmc10k": _Shape(10508, 36601, 108377, 300, full=True),
}
GENOME_GENES = 36601  # genes of the 10x GRCh38 reference
GENOME_PEAKS = 108377  # peaks of the PBMC 10k ARC sample

NAMED_SCALE = 0.7  # calibration of the hand-set levels on PBMC multiome marker counts
RIBO_SHARE = 0.07  # median fraction of UMIs from RPS/RPL genes
MT_MEDIAN = 0.035  # median MT fraction of healthy nuclei
DAMAGED_FRACTION = 0.03  # cells with a high MT fraction (removed by the 25% filter)
ATAC_DEPTH = 0.58  # median fragments per open peak per unit capture
TWO_CUT_PROB = 0.92  # fragments with both Tn5 cuts inside the peak
N_PROGRAMS = 4
CIS_WINDOW = 100_000
PROMOTER_WINDOW = 2_500  # bp from the TSS to the peak centre
MIN_PEAK_GAP = 1_000  # bp between peaks, so a fragment touches one peak only
BLOCK_ENTRIES = 1 << 24  # matrix entries per generated cell block


@dataclass
class SimulationResult:
    """Where :func:`simulate` wrote its files, and the shape of the data."""

    out_dir: Path
    h5_path: Path
    links_path: Path
    labels_path: Path
    annotation_path: Path
    n_cells: int
    n_genes: int
    n_peaks: int
    peaks_path: Path | None = None
    metrics_path: Path | None = None
    fragments_path: Path | None = None


# --------------------------------------------------------------------------- helpers


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _top_k_weighted(rng: np.random.Generator, log_weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of a weighted sample without replacement (Gumbel top-k), sorted."""
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    return np.sort(np.argpartition(-keys, k - 1)[:k]) if k < len(keys) else np.arange(len(keys))


def _barcodes(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("ACGT"))
    codes = np.unique(rng.integers(0, 4, size=(int(n * 1.05) + 16, 16)), axis=0)
    codes = codes[np.sort(rng.choice(len(codes), n, replace=False))]
    return ["".join(row) + "-1" for row in letters[codes]]


def _sample_counts(
    rng: np.random.Generator, mean: np.ndarray, size: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Negative-binomial (``size`` per column) or Poisson (``size=None``) counts, sparsely.

    One uniform per entry decides zero vs non-zero (``u < P(0)``), and the same uniform
    gives the value of the non-zero ones by inverse CDF, so the work beyond one pass is
    proportional to the number of non-zeros. Returns rows, columns, values (int32).
    """
    uniform = rng.random(mean.shape, dtype=np.float32)
    if size is None:
        p_zero = np.exp(-mean)
    else:
        p_zero = np.exp(-size * np.log1p(mean / size))
    rows, cols = np.nonzero(uniform >= p_zero)
    mu = mean[rows, cols].astype(np.float64)
    u = uniform[rows, cols].astype(np.float64)
    pk = p_zero[rows, cols].astype(np.float64)
    r = None if size is None else np.broadcast_to(size, mean.shape)[rows, cols].astype(np.float64)
    values = np.zeros(len(mu), dtype=np.int32)
    big = mu > 30
    if big.any():  # far from zero: direct sampling, re-drawn while zero
        idx = np.flatnonzero(big)
        while len(idx):
            if r is None:
                draw = rng.poisson(mu[idx])
            else:
                draw = rng.negative_binomial(r[idx], r[idx] / (r[idx] + mu[idx]))
            values[idx] = draw
            idx = idx[draw == 0]
    todo = np.flatnonzero(~big)
    cdf = pk.copy()
    ratio = mu / (mu + r) if r is not None else mu
    k = 0
    while len(todo):
        k += 1
        if r is None:
            pk[todo] *= ratio[todo] / k
        else:
            pk[todo] *= (k - 1 + r[todo]) / k * ratio[todo]
        cdf[todo] += pk[todo]
        hit = u[todo] < cdf[todo]
        values[todo[hit]] = k
        todo = todo[~hit]
        if k >= 400 and len(todo):  # numerical tail: give the rest the last value
            values[todo] = k
            break
    return rows.astype(np.int32), cols.astype(np.int32), values


# --------------------------------------------------------------------------- genes


def _named_gene_table() -> pd.DataFrame:
    tokens = _NAMED_COORDS.split()
    rows = [tokens[i : i + 5] for i in range(0, len(tokens), 5)]
    table = pd.DataFrame(rows, columns=["gene", "chrom", "start", "end", "strand"])
    table[["start", "end"]] = table[["start", "end"]].astype(np.int64)
    return table


def _filler_levels(rng: np.random.Generator, n: int) -> np.ndarray:
    """UMIs per cell at the median library for non-named genes (full-genome distribution).

    A third of genes are practically silent (antisense, lncRNA, tissue-specific genes);
    the rest follow a heavy-tailed log-normal. Calibrated on PBMC 10k multiome (see
    benchmarks/simulator_calibration.py).
    """
    silent = rng.random(n) < 0.325
    log10 = np.where(silent, rng.normal(-4.6, 0.6, n), rng.normal(-1.8, 0.85, n))
    return 10.0**log10


def _build_genes(rng: np.random.Generator, shape: _Shape) -> tuple[pd.DataFrame, np.ndarray]:
    """Gene table (sorted in genome order) and levels ``(n_types, n_genes)``."""
    named = _named_gene_table()
    n_types = len(CELL_TYPES)
    n_filler = shape.n_genes - len(named)
    if n_filler < 0:
        raise ConfigError(f"shape needs at least {len(named)} genes")
    # filler genes: the full genome's distribution, or a subset biased to expressed genes
    pool = _filler_levels(rng, GENOME_GENES - len(named))
    if shape.full:
        chosen = pool[:n_filler]
    else:
        chosen = pool[_top_k_weighted(rng, 0.5 * np.log(pool), n_filler)]
    chroms = np.array(STANDARD)[rng.choice(24, n_filler, p=GENE_DENSITY / GENE_DENSITY.sum())]
    sizes = np.array([CHROM_SIZES[c] for c in chroms])
    length = np.clip(rng.lognormal(np.log(16_000), 1.6, n_filler), 500, 1_500_000).astype(np.int64)
    start = (rng.random(n_filler) * (sizes - length - 20_000)).astype(np.int64) + 10_000
    filler = pd.DataFrame(
        {
            "gene": [f"GENE{i:05d}" for i in range(1, n_filler + 1)],
            "chrom": chroms,
            "start": start,
            "end": start + length,
            "strand": np.where(rng.random(n_filler) < 0.5, "+", "-"),
        }
    )
    if shape.full:  # the 10x reference has a few duplicated gene names
        filler.loc[[n_filler - 1, n_filler - 2], "gene"] = ["GENE00101", "GENE00202"]

    levels = np.zeros((n_types, len(named) + n_filler), dtype=np.float64)
    kind = np.full(len(named) + n_filler, "other", dtype=object)
    for i, gene in enumerate(named["gene"]):
        if gene.startswith("MT-"):
            kind[i] = "mt"
        elif gene.startswith(("RPS", "RPL")):
            kind[i] = "ribo"
        elif gene in _HB_LEVELS:
            kind[i] = "hb"
            levels[:, i] = _HB_LEVELS[gene]
        else:
            off, on = _EXPRESSION[gene]
            levels[:, i] = NAMED_SCALE * off
            for cell_type, level in on.items():
                levels[CELL_TYPES.index(cell_type), i] = NAMED_SCALE * level
            kind[i] = "named"
    ribo = np.flatnonzero(kind == "ribo")
    ribo_weight = rng.lognormal(0, 0.5, len(ribo))
    # filler genes: type effects (log scale), 15% of them type- or lineage-specific modules
    delta = rng.normal(0, 0.25, (n_types, n_filler))
    specific = rng.random(n_filler) < 0.15
    for j in np.flatnonzero(specific):
        if rng.random() < 0.5:
            members = [CELL_TYPES.index(t) for t in LINEAGES[rng.integers(len(LINEAGES))]]
        else:
            members = [int(rng.integers(n_types))]
        delta[:, j] -= 0.7
        delta[members, j] += rng.uniform(1.5, 3.5)
    levels[:, len(named) :] = chosen[None, :] * np.exp(delta)
    # ribosomal genes: a fixed share of *this* feature set's library, so QC fractions look
    # like real data whatever the number of genes simulated
    others = levels.sum(1).mean()
    levels[:, ribo] = others * RIBO_SHARE / (1 - RIBO_SHARE) * ribo_weight / ribo_weight.sum()
    genes = pd.concat([named, filler], ignore_index=True)
    genes["kind"] = kind
    genes["tss"] = np.where(genes["strand"] == "+", genes["start"], genes["end"] - 1)
    order = np.lexsort((genes["start"].to_numpy(), genes["chrom"].map(CHROM_ORDER).to_numpy()))
    return genes.iloc[order].reset_index(drop=True), levels[:, order]


# --------------------------------------------------------------------------- cells


def _build_cells(rng: np.random.Generator, n_cells: int) -> dict[str, np.ndarray]:
    cell_type = rng.choice(len(CELL_TYPES), n_cells, p=TYPE_PROPORTIONS)
    damaged = rng.random(n_cells) < DAMAGED_FRACTION
    z = rng.multivariate_normal([0, 0], [[1, 0.35], [0.35, 1]], n_cells)
    library = np.exp(0.45 * z[:, 0]) * TYPE_LIBRARY[cell_type] * np.where(damaged, 0.5, 1.0)
    depth = np.exp(0.5 * z[:, 1]) * np.where(damaged, 0.6, 1.0)
    mt = np.where(
        damaged,
        rng.uniform(0.28, 0.6, n_cells),
        np.clip(MT_MEDIAN * rng.lognormal(0, 0.6, n_cells), 0.002, 0.2),
    )
    ribo = rng.lognormal(0, 0.3, n_cells) * np.where(np.isin(cell_type, [0, 1]), 1.15, 0.9)
    hb = np.where(rng.random(n_cells) < 0.02, rng.uniform(20, 200, n_cells), 1.0)
    programs = rng.normal(0, 1, (n_cells, N_PROGRAMS))
    return dict(
        cell_type=cell_type,
        damaged=damaged,
        library=library,
        depth=depth,
        mt=mt,
        ribo=ribo,
        hb=hb,
        programs=programs,
    )


# --------------------------------------------------------------------------- peaks


def _promoter_peak(rng: np.random.Generator, tss: int) -> tuple[int, int]:
    width = int(np.clip(rng.lognormal(np.log(1200), 0.4), 400, 4000))
    start = tss - width // 2 + int(rng.integers(-150, 151))
    return start, start + width


def _distal_width(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.clip(rng.lognormal(np.log(600), 0.75, n), 200, 5000).astype(np.int64)


def _build_peaks(
    rng: np.random.Generator,
    shape: _Shape,
    genes: pd.DataFrame,
    levels: np.ndarray,
    drivers: np.ndarray,
) -> tuple[pd.DataFrame, list[dict]]:
    """Peak coordinates and roles. Returns the peak table and the planted links (by row)."""
    records: list[dict] = []  # chrom, start, end, role, gene (row in genes), effect
    expressed = levels.max(0) > 0.05
    driver_set = set(drivers.tolist())
    required = set(np.flatnonzero(genes["gene"].isin(REQUIRED_DRIVERS).to_numpy()).tolist())
    # promoter peaks: most expressed genes, some silent ones (the nuclear genome is mostly closed)
    has_promoter = rng.random(len(genes)) < np.where(expressed, 0.85, 0.25)
    has_promoter[genes["chrom"].to_numpy() == "chrM"] = False
    links: list[dict] = []
    for g in np.flatnonzero(has_promoter | np.isin(np.arange(len(genes)), drivers)):
        start, end = _promoter_peak(rng, int(genes.at[g, "tss"]))
        role = "promoter"
        if g in driver_set and (g in required or rng.random() < 0.6):
            role = "planted"
            links.append(dict(record=len(records), gene=g, kind="promoter"))
        records.append(dict(chrom=genes.at[g, "chrom"], start=start, end=end, role=role, gene=g))
    # driver neighbourhoods: planted enhancers, nulls (one type-matched), a distal link
    for g in drivers:
        chrom, tss = genes.at[g, "chrom"], int(genes.at[g, "tss"])
        n_planted = int(rng.integers(2 if g in required else 1, 4))
        n_null = int(rng.integers(3, 6))
        offsets = rng.uniform(3_000, 95_000, n_planted + n_null) * rng.choice(
            [-1, 1], n_planted + n_null
        )
        widths = _distal_width(rng, n_planted + n_null)
        for i, (offset, width) in enumerate(zip(offsets, widths)):
            start = max(tss + int(offset) - width // 2, 1000)
            if i < n_planted:
                role = "planted"
                links.append(dict(record=len(records), gene=g, kind="cis"))
            else:
                role = "type_matched" if i == n_planted else "distal"
            records.append(dict(chrom=chrom, start=start, end=start + width, role=role, gene=g))
        if rng.random() < 0.35:
            other = STANDARD[int(rng.integers(23))]
            if other == chrom:
                pos = tss + int(rng.uniform(150_000, 3_000_000)) * int(rng.choice([-1, 1]))
                pos = int(np.clip(pos, 10_000, CHROM_SIZES[chrom] - 10_000))
            else:
                pos = int(rng.uniform(10_000, CHROM_SIZES[other] - 10_000))
            width = int(_distal_width(rng, 1)[0])
            links.append(dict(record=len(records), gene=g, kind="distal"))
            records.append(dict(chrom=other, start=pos, end=pos + width, role="planted", gene=g))
    # unplaced contigs: a few peaks, as in real ARC output
    n_nonstandard = max(3, round(shape.n_peaks * 5e-4))
    contigs = list(NONSTANDARD_CONTIGS)
    for i in range(n_nonstandard):
        contig = contigs[i % len(contigs)]
        start = int(rng.uniform(1_000, NONSTANDARD_CONTIGS[contig] - 6_000))
        records.append(
            dict(
                chrom=contig,
                start=start,
                end=start + int(_distal_width(rng, 1)[0]),
                role="nonstandard",
                gene=-1,
            )
        )
    n_distal = shape.n_peaks - len(records)
    if n_distal < 0:
        raise ConfigError(f"shape: {shape.n_peaks} peaks are too few for its genes and links")
    # random distal peaks, placed with the gene density
    chroms = np.array(STANDARD)[rng.choice(24, n_distal, p=GENE_DENSITY / GENE_DENSITY.sum())]
    sizes = np.array([CHROM_SIZES[c] for c in chroms])
    widths = _distal_width(rng, n_distal)
    starts = (rng.random(n_distal) * (sizes - widths - 20_000)).astype(np.int64) + 10_000
    table = pd.concat(
        [
            pd.DataFrame.from_records(records),
            pd.DataFrame(
                {
                    "chrom": chroms,
                    "start": starts,
                    "end": starts + widths,
                    "role": "distal",
                    "gene": -1,
                }
            ),
        ],
        ignore_index=True,
    )
    table["record"] = np.arange(len(table))
    table = _resolve_overlaps(table)
    return table, links


def _resolve_overlaps(table: pd.DataFrame) -> pd.DataFrame:
    """Sort peaks in genome order and push them apart to at least ``MIN_PEAK_GAP`` bp."""
    table = table.assign(order=table["chrom"].map(CHROM_ORDER))
    table = table.sort_values(["order", "start", "record"], kind="stable").reset_index(drop=True)
    width = (table["end"] - table["start"]).to_numpy()
    start = table["start"].to_numpy().copy()
    for _, idx in table.groupby("order", sort=False).indices.items():
        w = width[idx]
        offset = np.concatenate([[0], np.cumsum(w[:-1] + MIN_PEAK_GAP)])
        start[idx] = np.maximum.accumulate(start[idx] - offset) + offset
    table["start"] = start
    table["end"] = start + width
    limit = (table["chrom"].map({**CHROM_SIZES, **NONSTANDARD_CONTIGS})).to_numpy()
    if np.any(table["end"].to_numpy() > limit):
        raise ConfigError("too many peaks for the genome: peaks run past a chromosome end")
    return table.drop(columns="order")


def _peak_parameters(
    rng: np.random.Generator,
    shape: _Shape,
    peaks: pd.DataFrame,
    levels: np.ndarray,
    drivers: np.ndarray,
) -> dict[str, np.ndarray]:
    """Base logit, type effects, program loadings and capture strength of every peak."""
    n, n_types = len(peaks), len(CELL_TYPES)
    role = peaks["role"].to_numpy()
    gene = peaks["gene"].to_numpy()
    base = rng.normal(-4.2, 1.6, n)
    if not shape.full:  # a subset biased to accessible peaks, as a feature-selected dataset is
        base = rng.normal(-3.6, 1.6, n)
    promoter = role == "promoter"
    base[promoter] = rng.normal(-1.0, 1.3, promoter.sum())
    planted = role == "planted"
    base[planted] = rng.normal(-1.0, 0.6, planted.sum())
    base[role == "nonstandard"] = rng.normal(-1.5, 1.0, (role == "nonstandard").sum())
    type_effect = rng.normal(0, 0.25, (n_types, n)).astype(np.float64)
    type_effect[:, planted] = 0.0
    log_levels = np.log1p(levels)
    # a promoter mirrors its gene's type profile (it is not linked cell by cell)
    idx = np.flatnonzero(promoter)
    profile = log_levels[:, gene[idx]] - log_levels[:, gene[idx]].mean(0)
    type_effect[:, idx] += 0.8 * profile
    # the type-matched null copies the driver's type profile at a planted link's strength
    idx = np.flatnonzero(role == "type_matched")
    profile = log_levels[:, gene[idx]] - log_levels[:, gene[idx]].mean(0)
    type_effect[:, idx] = 1.5 * profile
    base[idx] = rng.normal(-1.0, 0.6, len(idx))
    # a third of distal peaks are type- or lineage-specific
    distal = np.flatnonzero(role == "distal")
    specific = distal[rng.random(len(distal)) < 0.35]
    for j in specific:
        if rng.random() < 0.5:
            members = [CELL_TYPES.index(t) for t in LINEAGES[rng.integers(len(LINEAGES))]]
        else:
            members = [int(rng.integers(n_types))]
        type_effect[:, j] -= 0.5
        type_effect[members, j] += rng.uniform(1.5, 3.5)
    loadings = np.zeros((N_PROGRAMS, n))
    loaded = distal[rng.random(len(distal)) < 0.08]
    loadings[rng.integers(N_PROGRAMS, size=len(loaded)), loaded] = rng.normal(0, 0.8, len(loaded))
    capture = rng.lognormal(0, 0.75, n) * np.where(promoter | planted, 1.5, 1.0)
    return dict(base=base, type_effect=type_effect, loadings=loadings, capture=capture)


# --------------------------------------------------------------------------- generation


def _gene_program_loadings(rng: np.random.Generator, genes: pd.DataFrame) -> np.ndarray:
    loadings = np.zeros((N_PROGRAMS, len(genes)))
    other = np.flatnonzero(genes["gene"].str.startswith("GENE").to_numpy())
    loaded = other[rng.random(len(other)) < 0.10]
    loadings[rng.integers(N_PROGRAMS, size=len(loaded)), loaded] = rng.normal(0, 0.6, len(loaded))
    return loadings


def _choose_drivers(
    rng: np.random.Generator, shape: _Shape, genes: pd.DataFrame, levels: np.ndarray
) -> np.ndarray:
    index = {g: i for i, g in enumerate(genes["gene"])}
    names = list(REQUIRED_DRIVERS) + list(EXTRA_DRIVERS)
    chosen = [index[g] for g in names[: shape.n_drivers]]
    if len(chosen) < shape.n_drivers:
        mean_level = levels.mean(0)
        pool = np.flatnonzero(genes["gene"].str.startswith("GENE").to_numpy() & (mean_level > 0.5))
        extra = rng.choice(pool, min(len(pool), shape.n_drivers - len(chosen)), replace=False)
        chosen += sorted(extra.tolist())
    return np.array(chosen)


def _cell_block_size(n_features: int) -> int:
    return max(8, BLOCK_ENTRIES // max(n_features, 1))


def _generate_matrix(
    rng: np.random.Generator,
    genes: pd.DataFrame,
    levels: np.ndarray,
    cells: dict[str, np.ndarray],
    drivers: np.ndarray,
    peak_params: dict[str, np.ndarray],
    link_peaks: np.ndarray,
    link_genes: np.ndarray,
    link_effects: np.ndarray,
    writer: TenxH5Writer,
    keep_fragments: bool,
) -> dict[str, np.ndarray]:
    """Draw counts block by block and stream them into ``writer``. Returns per-cell totals."""
    n_cells, n_genes = len(cells["cell_type"]), len(genes)
    n_peaks = len(peak_params["base"])
    kind = genes["kind"].to_numpy()
    mt, ribo, hb = (np.flatnonzero(kind == k) for k in ("mt", "ribo", "hb"))
    mt_weight = np.array([8, 5, 12, 10, 2, 8, 10, 3, 1, 8, 3, 1, 5], dtype=float)[: len(mt)]
    mt_weight /= mt_weight.sum()
    gene_loadings = _gene_program_loadings(rng, genes)
    gene_loadings[:, drivers] = 0.0
    size = np.exp(rng.normal(np.log(3.0), 0.5, n_genes))
    # the drivers' expression level (with its gamma variation) for every cell, drawn first
    shape_param = 1.5
    gamma = rng.gamma(shape_param, 1.0 / shape_param, (n_cells, len(drivers)))
    x_drivers = levels[:, drivers][cells["cell_type"]] * gamma
    e_drivers = np.log1p(x_drivers)
    e_centred = (e_drivers - e_drivers.mean(0)).astype(np.float32)
    driver_col = {g: i for i, g in enumerate(drivers)}
    link_cols = np.array([driver_col[g] for g in link_genes], dtype=np.int64)

    rna_size = _rna_size(size.astype(np.float32)[None, :], drivers)
    gene_loadings32 = gene_loadings.astype(np.float32)
    levels32 = levels.astype(np.float32)
    base32 = peak_params["base"].astype(np.float32)
    type32 = peak_params["type_effect"].astype(np.float32)
    load32 = peak_params["loadings"].astype(np.float32)
    capture32 = (peak_params["capture"] * ATAC_DEPTH).astype(np.float32)
    effects32 = link_effects.astype(np.float32)
    totals = {
        k: np.zeros(n_cells, dtype=np.int64)
        for k in ("rna", "genes", "mt", "atac", "peaks", "fragments")
    }
    fragments = []
    block = _cell_block_size(n_genes + n_peaks)
    starts = range(0, n_cells, block)
    for first in progress(starts, "simulating cells", total=len(starts)):
        rows = slice(first, min(first + block, n_cells))
        types = cells["cell_type"][rows]
        u = cells["programs"][rows].astype(np.float32)
        lib = cells["library"][rows].astype(np.float32)[:, None]
        # RNA means
        mean = levels32[types] * np.exp(u @ gene_loadings32)
        mean[:, ribo] *= cells["ribo"][rows, None].astype(np.float32)
        mean[:, hb] *= cells["hb"][rows, None].astype(np.float32)
        mean[:, drivers] = x_drivers[rows].astype(np.float32)
        mean *= lib
        f = cells["mt"][rows]
        mean[:, mt] = ((f / (1 - f))[:, None] * mean.sum(1, keepdims=True) * mt_weight).astype(
            np.float32
        )
        r_rna, c_rna, v_rna = _sample_counts(rng, mean, rna_size)
        del mean
        # ATAC
        logit = base32 + type32[types] + u @ load32
        logit[:, link_peaks] += effects32 * e_centred[rows][:, link_cols]
        with np.errstate(over="ignore"):
            rate = cells["depth"][rows, None].astype(np.float32) * capture32 / (1 + np.exp(-logit))
        del logit
        r_frag, c_frag, n_frag = _sample_counts(rng, rate, None)
        del rate
        two_cut = rng.binomial(n_frag, TWO_CUT_PROB).astype(np.int32)
        cuts = n_frag + two_cut
        n_rows = rows.stop - rows.start
        rna = sp.csr_matrix((v_rna, (r_rna, c_rna)), shape=(n_rows, n_genes))
        atac = sp.csr_matrix((cuts, (r_frag, c_frag)), shape=(n_rows, n_peaks))
        writer.append(sp.hstack([rna, atac], format="csr"))
        totals["rna"][rows] = np.asarray(rna.sum(1)).ravel()
        totals["genes"][rows] = np.diff(rna.indptr)
        totals["mt"][rows] = np.asarray(rna[:, mt].sum(1)).ravel()
        totals["atac"][rows] = np.asarray(atac.sum(1)).ravel()
        totals["peaks"][rows] = np.diff(atac.indptr)
        totals["fragments"][rows] = np.bincount(r_frag, weights=n_frag, minlength=n_rows).astype(
            np.int64
        )
        if keep_fragments:
            fragments.append(np.stack([r_frag + first, c_frag, n_frag, two_cut], axis=1))
    if keep_fragments:
        totals["fragment_table"] = np.concatenate(fragments) if fragments else np.zeros((0, 4), int)
    return totals


def _rna_size(sizes: np.ndarray, drivers: np.ndarray) -> np.ndarray:
    """NB size per gene; drivers are Poisson given their explicit gamma draw (size -> inf)."""
    out = sizes.copy()
    out[:, drivers] = 1e6
    return out


# --------------------------------------------------------------------------- outputs


def _features(genes: pd.DataFrame, peaks: pd.DataFrame) -> pd.DataFrame:
    gene_interval = (
        genes["chrom"] + ":" + genes["start"].astype(str) + "-" + genes["end"].astype(str)
    )
    peak_names = peaks["chrom"] + ":" + peaks["start"].astype(str) + "-" + peaks["end"].astype(str)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "id": [f"ENSG9{i:010d}" for i in range(len(genes))],
                    "name": genes["gene"],
                    "feature_type": "Gene Expression",
                    "genome": "GRCh38",
                    "interval": gene_interval,
                }
            ),
            pd.DataFrame(
                {
                    "id": peak_names,
                    "name": peak_names,
                    "feature_type": "Peaks",
                    "genome": "GRCh38",
                    "interval": peak_names,
                }
            ),
        ],
        ignore_index=True,
    )


def _ground_truth(
    rng: np.random.Generator,
    genes: pd.DataFrame,
    peaks: pd.DataFrame,
    drivers: np.ndarray,
    links: dict[int, tuple[int, str, float]],
) -> pd.DataFrame:
    """One row per (driver, candidate peak): planted links and non-responding candidates."""
    names = peaks["chrom"] + ":" + peaks["start"].astype(str) + "-" + peaks["end"].astype(str)
    centre = (peaks["start"] + peaks["end"]).to_numpy() // 2
    chrom = peaks["chrom"].to_numpy()
    role = peaks["role"].to_numpy()
    owner = peaks["gene"].to_numpy()
    rows = []
    for g in drivers:
        g_chrom, tss = genes.at[g, "chrom"], int(genes.at[g, "tss"])
        same = chrom == g_chrom
        in_window = np.flatnonzero(same & (np.abs(centre - tss) <= CIS_WINDOW))
        planted = [p for p, (gene, _, _) in links.items() if gene == g]
        far = np.flatnonzero(~(same & (np.abs(centre - tss) <= CIS_WINDOW)) & (role != "planted"))
        far = rng.choice(far, min(20, len(far)), replace=False)
        for p in sorted(set(in_window.tolist()) | set(planted) | set(far.tolist())):
            if p in links and links[p][0] == g:
                effect = links[p][2]
                # the kind follows the final position (overlap resolution may move a peak)
                distance = abs(centre[p] - tss) if same[p] else np.inf
                kind = (
                    "promoter"
                    if distance <= PROMOTER_WINDOW
                    else "cis"
                    if distance <= CIS_WINDOW
                    else "distal"
                )
            else:
                effect = 0.0
                near = same[p] and abs(centre[p] - tss) <= CIS_WINDOW
                kind = (
                    "null_type_matched"
                    if role[p] == "type_matched" and owner[p] == g
                    else "null_cis"
                    if near
                    else "null_distal"
                )
            rows.append(
                dict(
                    gene=genes.at[g, "gene"],
                    peak=names[p],
                    effect=round(float(effect), 4),
                    planted=effect != 0.0,
                    kind=kind,
                    chrom=chrom[p],
                    distance_to_tss=int(centre[p] - tss) if same[p] else pd.NA,
                )
            )
    table = pd.DataFrame(rows)
    table["distance_to_tss"] = table["distance_to_tss"].astype("Int64")
    return table


def _per_barcode_metrics(
    rng: np.random.Generator, barcodes: list[str], totals: dict[str, np.ndarray]
) -> pd.DataFrame:
    """A ``per_barcode_metrics.csv`` with ARC's columns, consistent with the matrix."""
    n = len(barcodes)
    letters = np.array(list("ACGT"))
    atac_bc = ["".join(r) + "-1" for r in letters[rng.integers(0, 4, (n, 16))]]
    umis = totals["rna"]
    frip = rng.uniform(0.5, 0.75, n)
    peak_frags = totals["fragments"]
    atac_frags = np.round(peak_frags / frip).astype(np.int64)
    gex_reads = np.round(umis * rng.uniform(3.0, 5.0, n)).astype(np.int64)
    atac_reads = np.round(atac_frags * 2 * rng.uniform(1.6, 2.4, n)).astype(np.int64)
    exonic = np.round(umis * 0.45).astype(np.int64)
    table = pd.DataFrame(
        {
            "barcode": barcodes,
            "gex_barcode": barcodes,
            "atac_barcode": atac_bc,
            "is_cell": 1,
            "excluded_reason": 0,
            "gex_raw_reads": gex_reads,
            "gex_mapped_reads": np.round(gex_reads * 0.93).astype(np.int64),
            "gex_conf_intergenic_reads": np.round(gex_reads * 0.05).astype(np.int64),
            "gex_conf_exonic_reads": np.round(gex_reads * 0.35).astype(np.int64),
            "gex_conf_intronic_reads": np.round(gex_reads * 0.5).astype(np.int64),
            "gex_conf_exonic_unique_reads": np.round(gex_reads * 0.3).astype(np.int64),
            "gex_conf_exonic_antisense_reads": np.round(gex_reads * 0.02).astype(np.int64),
            "gex_conf_exonic_dup_reads": np.round(gex_reads * 0.15).astype(np.int64),
            "gex_exonic_umis": exonic,
            "gex_conf_intronic_unique_reads": np.round(gex_reads * 0.42).astype(np.int64),
            "gex_conf_intronic_antisense_reads": np.round(gex_reads * 0.03).astype(np.int64),
            "gex_conf_intronic_dup_reads": np.round(gex_reads * 0.2).astype(np.int64),
            "gex_intronic_umis": umis - exonic,
            "gex_conf_txomic_unique_reads": np.round(gex_reads * 0.28).astype(np.int64),
            "gex_umis_count": umis,
            "gex_genes_count": totals["genes"],
            "atac_raw_reads": atac_reads,
            "atac_unmapped_reads": np.round(atac_reads * 0.01).astype(np.int64),
            "atac_lowmapq": np.round(atac_reads * 0.05).astype(np.int64),
            "atac_dup_reads": np.round(atac_reads * 0.35).astype(np.int64),
            "atac_chimeric_reads": np.round(atac_reads * 0.002).astype(np.int64),
            "atac_mitochondrial_reads": np.round(atac_reads * 0.002).astype(np.int64),
            "atac_fragments": atac_frags,
            "atac_TSS_fragments": np.round(atac_frags * rng.uniform(0.25, 0.4, n)).astype(np.int64),
            "atac_peak_region_fragments": peak_frags,
            "atac_peak_region_cutsites": totals["atac"],
        }
    )
    # background (non-cell) barcodes, as the real file lists every barcode seen
    n_bg = n // 2
    bg = pd.DataFrame(0, index=range(n_bg), columns=table.columns)
    used = set(barcodes)
    bg_codes = [b for b in _barcodes(rng, n_bg + n // 10 + 8) if b not in used][:n_bg]
    bg["barcode"] = bg["gex_barcode"] = bg_codes
    bg["atac_barcode"] = ["".join(r) + "-1" for r in letters[rng.integers(0, 4, (len(bg), 16))]]
    bg["gex_umis_count"] = rng.poisson(15, len(bg))
    bg["atac_fragments"] = rng.poisson(40, len(bg))
    return pd.concat([table, bg], ignore_index=True).sort_values("barcode", kind="stable")


def _write_fragments(
    rng: np.random.Generator,
    path: Path,
    barcodes: list[str],
    peaks: pd.DataFrame,
    table: np.ndarray,
) -> Path:
    """Tn5 fragments whose cut sites reproduce the peak counts exactly, plus background.

    A fragment with both cuts in ``[start, end)`` adds 2 to its peak, one straddling the
    edge adds 1; background fragments sit in the gaps between peaks (they touch none).
    """
    import pysam

    cell, peak, n_frag, two_cut = (table[:, i] for i in range(4))
    start, end = peaks["start"].to_numpy(), peaks["end"].to_numpy()
    # one row per fragment
    rep = np.repeat(np.arange(len(cell)), n_frag)
    first = np.cumsum(n_frag) - n_frag
    is_two = (np.arange(len(rep)) - first[rep]) < two_cut[rep]
    p = peak[rep]
    width = end[p] - start[p]
    length = np.minimum(rng.integers(40, 600, len(p)), np.maximum(width - 1, 1))
    f_start = start[p] + (rng.random(len(p)) * (width - length)).astype(np.int64)
    f_end = f_start + length
    one = ~is_two
    left = one & (rng.random(len(p)) < 0.5)
    right = one & ~left
    # left: the start cut lies before the peak, the end cut inside
    inside = start[p] + (rng.random(len(p)) * width).astype(np.int64)
    f_start = np.where(left, start[p] - rng.integers(1, 300, len(p)), f_start)
    f_end = np.where(left, inside + 1, f_end)
    f_start = np.where(right, inside, f_start)
    f_end = np.where(right, end[p] + rng.integers(1, 300, len(p)), f_end)
    frag_cell = cell[rep]
    # background fragments between peaks (FRiP ~ 0.7)
    n_bg = len(rep) * 3 // 7
    bg_peak = rng.integers(0, len(peaks), n_bg)
    bg_start = end[bg_peak] + 320 + rng.integers(0, 50, n_bg)
    bg_end = bg_start + rng.integers(40, 300, n_bg)
    frame = pd.DataFrame(
        {
            "chrom": np.concatenate(
                [peaks["chrom"].to_numpy()[p], peaks["chrom"].to_numpy()[bg_peak]]
            ),
            "start": np.concatenate([f_start, bg_start]),
            "end": np.concatenate([f_end, bg_end]),
            "barcode": np.asarray(barcodes, dtype=object)[
                np.concatenate([frag_cell, rng.integers(0, len(barcodes), n_bg)])
            ],
            "count": 1 + rng.poisson(0.4, len(rep) + n_bg),
        }
    )
    frame["order"] = frame["chrom"].map(CHROM_ORDER)
    frame = frame.sort_values(["order", "start", "end", "barcode"], kind="stable").drop(
        columns="order"
    )
    plain = path.with_suffix("")  # atac_fragments.tsv
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", header=False, index=False)
    plain.write_text(buffer.getvalue())
    pysam.tabix_index(str(plain), preset="bed", force=True, keep_original=False)
    return path


def _write_tsv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, sep="\t", index=False)


# --------------------------------------------------------------------------- entry point


def simulate(
    out_dir: str | os.PathLike, shape: str = "small", seed: int = 0, fragments: bool = False
) -> SimulationResult:
    """Simulate a PBMC-like 10x multiome sample with planted gene -> peak links.

    Parameters
    ----------
    out_dir
        Folder to create (written atomically). An existing folder is replaced only when it
        holds a previous simulation (it has ``ground_truth_links.tsv``) or is empty.
    shape
        ``tiny`` (300 cells, tests), ``small`` (1,800 cells, the default dataset),
        ``pbmc3k`` (2,711 x 36,601 genes x 98,319 peaks) or ``pbmc10k`` (10,508 cells,
        about 10,150 x 25,545 x 43,788 after the default preparation).
    seed
        Seed of the one random generator; the same seed gives byte-identical files.
    fragments
        Also write ``atac_fragments.tsv.gz`` + ``.tbi`` (``tiny`` and ``small`` only).

    Returns
    -------
    SimulationResult with the paths written and the shape.
    """
    if shape not in SHAPES:
        raise ConfigError(f"simulate: unknown shape {shape!r}; choose one of: {', '.join(SHAPES)}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"simulate: seed must be a non-negative integer, got {seed!r}")
    spec = SHAPES[shape]
    if fragments and spec.full:
        raise ConfigError(
            f"simulate: fragments=True is supported for the tiny and small shapes only "
            f"(a {shape} fragments file would hold ~10^8 lines); drop fragments or pick tiny/small"
        )
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(
                f"simulate: {out_dir} exists and is not a folder; choose another --out"
            )
        if any(out_dir.iterdir()) and not (out_dir / "ground_truth_links.tsv").exists():
            raise InputError(
                f"simulate: {out_dir} is not empty and holds no previous simulation; "
                "choose a new or empty folder so nothing of yours is overwritten"
            )
    rng = np.random.default_rng(seed)
    log(
        f"simulating shape {shape!r} ({spec.n_cells} cells x {spec.n_genes} genes x "
        f"{spec.n_peaks} peaks), seed {seed}"
    )
    genes, levels = _build_genes(rng, spec)
    drivers = _choose_drivers(rng, spec, genes, levels)
    peaks, link_list = _build_peaks(rng, spec, genes, levels, drivers)
    record_row = pd.Series(np.arange(len(peaks)), index=peaks["record"].to_numpy())
    link_peaks = np.array([record_row[link["record"]] for link in link_list], dtype=np.int64)
    link_genes = np.array([link["gene"] for link in link_list], dtype=np.int64)
    magnitude = rng.uniform(1.5, 3.0, len(link_list))
    sign = np.where(rng.random(len(link_list)) < 0.75, 1.0, -1.0)
    # promoters open with their gene's expression; enhancers may also repress
    sign[[link["kind"] == "promoter" for link in link_list]] = 1.0
    link_effects = magnitude * sign
    peak_params = _peak_parameters(rng, spec, peaks, levels, drivers)
    cells = _build_cells(rng, spec.n_cells)
    barcodes = _barcodes(rng, spec.n_cells)
    features = _features(genes, peaks)

    with atomic_path(out_dir, is_dir=True) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; a dataset folder is readable like any other
        h5_path = tmp / "filtered_feature_bc_matrix.h5"
        with TenxH5Writer(h5_path, barcodes, features) as writer:
            totals = _generate_matrix(
                rng,
                genes,
                levels,
                cells,
                drivers,
                peak_params,
                link_peaks,
                link_genes,
                link_effects,
                writer,
                keep_fragments=fragments,
            )
        peaks[["chrom", "start", "end"]].to_csv(
            tmp / "atac_peaks.bed", sep="\t", header=False, index=False
        )
        _per_barcode_metrics(rng, barcodes, totals).to_csv(
            tmp / "per_barcode_metrics.csv", index=False
        )
        links = {
            int(p): (int(g), link["kind"], float(e))
            for p, g, link, e in zip(link_peaks, link_genes, link_list, link_effects)
        }
        truth = _ground_truth(rng, genes, peaks, drivers, links)
        _write_tsv(truth, tmp / "ground_truth_links.tsv")
        labels = pd.DataFrame(
            {"barcode": barcodes, "cell_type": np.asarray(CELL_TYPES)[cells["cell_type"]]}
        )
        _write_tsv(labels, tmp / "cell_types.tsv")
        _write_tsv(
            genes[["gene", "chrom", "start", "end", "strand", "tss"]], tmp / "gene_annotation.tsv"
        )
        if fragments:
            _write_fragments(
                rng, tmp / "atac_fragments.tsv.gz", barcodes, peaks, totals["fragment_table"]
            )
    log(f"wrote {out_dir}: {len(truth[truth['planted']])} planted links for {len(drivers)} genes")
    return SimulationResult(
        out_dir=out_dir,
        h5_path=out_dir / "filtered_feature_bc_matrix.h5",
        links_path=out_dir / "ground_truth_links.tsv",
        labels_path=out_dir / "cell_types.tsv",
        annotation_path=out_dir / "gene_annotation.tsv",
        n_cells=spec.n_cells,
        n_genes=len(genes),
        n_peaks=len(peaks),
        peaks_path=out_dir / "atac_peaks.bed",
        metrics_path=out_dir / "per_barcode_metrics.csv",
        fragments_path=out_dir / "atac_fragments.tsv.gz" if fragments else None,
    )


make_module_callable(__name__, "genepeak.simulate:simulate")
