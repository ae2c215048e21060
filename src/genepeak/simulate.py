"""The built-in dataset: PBMC-like paired RNA + ATAC with planted gene -> peak links.

``simulate(out_dir, shape, seed, link_strength=1.0, genome="hg38", link_profile="reference")``
writes what Cell Ranger ARC writes (``filtered_feature_bc_matrix.h5`` with both modalities,
``atac_peaks.bed``, ``per_barcode_metrics.csv``, optionally ``atac_fragments.tsv.gz`` +
``.tbi``) plus the truth: ``ground_truth_links.tsv``, ``sham_genes.tsv``, ``cell_types.tsv``
and ``gene_annotation.tsv``. The real reading path runs on it unchanged.

The simulator is built so that no cheap baseline gets the links for free: distance to the TSS
is a strong but not a dominant signal (as in the published enhancer-gene benchmarks), the
cell-type pattern of a driver is shared by peaks it does not drive, and matched sham genes
drive nothing.

Generative model (one cell ``c`` of type ``t``)
-------------------------------------------------
Cells. Eight PBMC types (CD4 T, CD8 T, NK, B, CD14 Mono, FCGR3A Mono, cDC, pDC) in
proportions like a granulocyte-sorted PBMC multiome sample. Each cell has a library factor
``s_c`` (log-normal, larger for myeloid cells), four continuous programs ``u_c ~ N(0, I)``
(activation, interferon, ... shared by genes and a few peaks), a mitochondrial fraction
``f_c`` (nuclei: a few percent; ~3% damaged cells at 28-60%, with smaller libraries), a
ribosomal multiplier and a rare haemoglobin (ambient RBC) multiplier. Continuous states:
``CONTINUUM_FRACTION`` of the CD4 T / CD8 T cells and of the CD14 / FCGR3A monocytes sit on
a continuum towards their partner type: position ``w_c ~ U(0, 0.5)`` mixes the two types'
expression levels (linearly) and peak type effects (on the logit scale); the label stays
the nearer type, so the clusters touch instead of being separated blobs.

RNA. Gene ``g`` has a level ``m_tg`` (UMIs at the median library) per type: PBMC marker
genes (CD3E, IL7R, CD8B, NKG7, GNLY, CD79A, MS4A1, CD14, LYZ, FCGR3A, ...), housekeeping,
MT-, RPS/RPL and HB genes at hand-set levels with real hg38 coordinates; the other genes
("GENE00001", random positions) draw levels from a heavy-tailed distribution calibrated on
PBMC 10k multiome (about a third of genes are almost never detected), with type-specific
modules. The cell's *expression level* is ``x_cg = m_tg * exp(L_g . u_c) * G_cg`` with
``G_cg ~ Gamma(r_g, 1/r_g)``, and counts are ``Poisson(s_c * x_cg)`` -- negative binomial
with size ``r_g`` (log-normal around 3).

Regulators. The *drivers* of planted links and the *sham genes* are the regulators. Their
within-type variation is explicit: ``G_cg ~ Gamma(REGULATOR_GAMMA_SHAPE, 1/shape)`` (shape
1.5: a coefficient of variation of 1/sqrt(1.5) = 0.82 within a type), drawn per cell, and
``PROGRAM_DRIVER_FRACTION`` of them also follow one continuous program
(``exp(L u - L^2/2)``, ``|L|`` in 0.4-0.7, mean-preserving). Drivers are NKG7, CD79A, FCGR3A,
CD8B, IL7R, CD3E, MS4A1, CD14, then more markers and expressed genes. Every driver has a
sham gene (a non-marker gene) with the same level and within-type variation: even-numbered
shams copy their driver's type profile (a co-marker, like CD3D beside CD3E), odd-numbered
ones get it with the cell types shuffled (rescaled to the same mean over cells). Shams drive
nothing (``sham_genes.tsv``).

ATAC. Peak ``p`` has a base logit ``a_p``, type effects ``T_tp`` (type- or lineage-specific
peaks; a promoter peak mirrors its gene's type profile), program loadings ``M_p`` and a
capture strength ``k_p``; the cell has an ATAC depth ``d_c``. The chromatin of a peak is
open with probability ``pi_cp = sigmoid(a_p + T_tp + M_p . u_c + link_cp)``, Tn5 fragments
are ``n_cp ~ Poisson(d_c * k_p * pi_cp)`` and each fragment contributes two cut sites inside
the peak (probability 0.92) or one (it straddles the edge): the matrix holds cut-site counts
as ARC does (mostly 2, 4, ...).

Planted links. A driver opens or closes its linked peaks cell by cell:
``link_cp = effect * (e_cg - mean_c e_cg)`` with ``e_cg = log1p(x_cg)``, the cell's own
log1p normalised expression (approximately the model input space), so a linked peak follows
the gene *within* a type, not only between types; planted peaks have no type effect of their
own. ``effect = link_strength * U(1.5, 3.0)`` in logit per log1p unit, promoter links
positive, the others 75% positive. Link geometry (``LINK_KIND_SHARES``), measured over all
planted links: about 15% promoter (<= 2.5 kb), 40% proximal cis (2.5-100 kb), 30% distal
cis (100 kb - 1 Mb, same chromosome), 15% trans (another chromosome). Why: CRISPRi screens
and fine-mapped eQTLs put most functional enhancers within ~100 kb, with a long tail to
~1 Mb (distance is the baseline every benchmark reports, and it is strong); trans links
stand for a transcription factor opening its binding sites elsewhere in the genome, which
paired RNA + ATAC shows and no window-based method can find. Every driver has its promoter
link with probability 0.8 (always for the eight markers above) and 3-6 non-promoter links
whose kinds are drawn with those shares; distances are log-uniform (3-95 kb and
110-950 kb), the side chosen so the peak stays on the chromosome.

Link profiles. That geometry is ``link_profile="reference"`` (the default; the same bytes
for the same seed as before the option existed). Real links sit closer to their gene:
``link_profile="real"`` draws distances from the shares of real positive links per
distance-to-TSS bin (<= 2 kb, 2-10, 10-30, 30-100, 100-300 kb, 300 kb-1 Mb, 1-2 Mb), stored in
``genepeak/data/real_link_distances.json`` (:func:`real_link_distances`; derived by
``benchmarks/truth_distances.py`` from K562 CRISPRi positives and fine-mapped immune eQTLs).
The profile is the mean of the two sets: CRISPRi screens seldom target the gene's own
promoter (4% of positives within 2 kb) and test one cell line, while fine-mapped eQTLs
over-count promoter and gene-body variants (23% within 2 kb) that are not enhancers; the two
agree on the tail (14-17% beyond 100 kb), and the mean (13.5% within 2 kb) keeps the
promoter-link rate near the reference one. The <= 2 kb bin is the driver's promoter link
(its promoter peak: a second peak within 2 kb of the TSS would not fit beside it with 1 kb
gaps), planted with the probability that gives the bin its share over all planted links
(``N_OTHER_LINKS`` links besides it on average; 0.70 here; not forced for the eight markers);
each other link picks one of the other bins by share and sits log-uniformly within it; kinds
follow (``cis`` within 100 kb, else ``distal``), and so do the decoys around distal links.
Both tables are cis-only (the screens test cis elements, the eQTLs are cis-eQTLs), so no link
is trans unless ``trans_share`` asks for a share of them. Placement (peaks at least 1 kb
apart) moves about 1% of the links drawn at 2-3 kb into the <= 2 kb bin.

Decoys (dense neighbourhoods). Around each driver, 5-8 non-driven peaks at the same
distances as its proximal links, and 1-2 within 2-30 kb of each distal or trans link, all as
accessible as planted peaks:

- *type-matched decoys* copy the cell-type pattern that a planted link of the driver has
  (``T_tp = sign * strength * E_t[e]``, centred, ``strength`` drawn as an effect and scaled
  by ``link_strength`` like one): correlated with the driver across types, not within;
- *program decoys* (2-3 of the TSS decoys of a driver that follows a program): the driver's
  type pattern plus the program part of a link (``M_p = sign * strength * L_g``), so they
  follow the driver within types too, through the shared program; only a model that sees the
  other genes of the program can tell them from a driven peak. The driver's own promoter
  peak, when not planted, mirrors its type profile like every promoter.

``ground_truth_links.tsv`` columns: ``gene, peak`` (``chr1:100-600``), ``effect`` (logit
change per log1p unit; 0 for every other row), ``planted`` (bool), ``kind``, ``chrom``,
``distance_to_tss`` (peak centre minus the gene's TSS in bp; empty on another chromosome).
Planted kinds follow the final position: ``promoter`` (<= 2.5 kb), ``cis`` (<= 100 kb),
``distal`` (same chromosome, > 100 kb), ``trans``. Other rows: ``null_type_matched`` and
``null_program`` (the decoys above, wherever they lie), ``null_cis`` (any other peak within
100 kb of the TSS), ``null_distal`` (any other peak within 1 Mb). The table lists, for every
driver, its planted links, its decoys and every peak within 1 Mb of its TSS. **Every peak of
the data that is not listed as planted for a gene has effect 0 for that gene**, so AUPRC is
computed over all peaks of the matrix (the listed rows are a convenience, not the candidate
set). A peak is planted for at most one gene; sham genes have effect 0 for every peak.

Shapes. ``pbmc3k`` / ``pbmc10k`` simulate every gene of the 10x GRCh38 reference and every
peak of the real sample, with per-cell statistics calibrated on the PBMC 10k subset
(``benchmarks/simulator_calibration.py``); ``pbmc10k`` leaves about 10,150 cells x 25,600
genes x 43,000 peaks after the default preparation filters. ``tiny``, ``small`` and
``medium`` keep a feature subset biased to expressed genes and accessible peaks, like a
feature-selected data set, with MT / ribosomal fractions matched to their own library so QC
removes a few percent.

Genomes. ``hg38`` (the default) or ``mm10``: mouse chromosome sizes (chr1-19, X, Y, M and a
few unplaced contigs), ``genome`` "mm10" in the h5 features, mouse-style symbols (``Cd3e``,
``Lyz2``, ``Gm00001``, ``mt-Co1`` at the mouse mitochondrial coordinates); the nuclear genes
get random positions (the cell-type biology is the PBMC one, renamed, not a mouse atlas).

Everything is drawn from one ``numpy.random.Generator(seed)`` in a fixed order; the count
matrix is generated in blocks of cells (never a dense cells x peaks float64 array) and
streamed into the h5 file, so the same seed gives byte-identical output.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from importlib import resources
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


#: mm10 (GRCm38) chromosome lengths (chrM last), plus a few unplaced contigs of the 10x reference.
MM10_CHROM_SIZES: dict[str, int] = {
    "chr1": 195471971,
    "chr2": 182113224,
    "chr3": 160039680,
    "chr4": 156508116,
    "chr5": 151834684,
    "chr6": 149736546,
    "chr7": 145441459,
    "chr8": 129401213,
    "chr9": 124595110,
    "chr10": 130694993,
    "chr11": 122082543,
    "chr12": 120129022,
    "chr13": 120421639,
    "chr14": 124902244,
    "chr15": 104043685,
    "chr16": 98207768,
    "chr17": 94987271,
    "chr18": 90702639,
    "chr19": 61431566,
    "chrX": 171031299,
    "chrY": 91744698,
    "chrM": 16299,
}
MM10_CONTIGS: dict[str, int] = {
    "GL456210.1": 169725,
    "GL456211.1": 241735,
    "GL456212.1": 153618,
    "GL456216.1": 66673,
    "GL456219.1": 175968,
    "JH584304.1": 114452,
}
#: genes per mouse chromosome, rounded (placement weights only; chr7 and chr11 are gene-rich)
MM10_GENE_DENSITY = np.array(
    [1400, 2100, 1200, 1500, 1400, 1400, 2200, 1200, 1400, 1200, 1900, 800, 900, 1000, 900]
    + [800, 1200, 550, 700, 1100, 100],
    dtype=float,
)


@dataclass(frozen=True)
class _Genome:
    """Chromosomes, placement weights and naming of one reference genome."""

    name: str  # the ``genome`` option: hg38, mm10
    label: str  # ``features/genome`` of the 10x h5 (GRCh38 for hg38, as Cell Ranger writes)
    chrom_sizes: dict[str, int]  # standard chromosomes, chrM last
    contigs: dict[str, int]  # unplaced contigs
    gene_density: np.ndarray  # genes per standard chromosome (chrM excluded)
    gene_id_prefix: str

    @property
    def standard(self) -> list[str]:
        return [c for c in self.chrom_sizes if c != "chrM"]

    @property
    def order(self) -> dict[str, int]:
        return {c: i for i, c in enumerate([*self.chrom_sizes, *self.contigs])}

    @property
    def sizes(self) -> dict[str, int]:
        return {**self.chrom_sizes, **self.contigs}

    def draw_chromosomes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` standard chromosomes, weighted by their gene density."""
        weights = self.gene_density / self.gene_density.sum()
        return np.array(self.standard)[rng.choice(len(self.standard), n, p=weights)]


GENOMES: dict[str, _Genome] = {
    "hg38": _Genome("hg38", "GRCh38", CHROM_SIZES, NONSTANDARD_CONTIGS, GENE_DENSITY, "ENSG9"),
    "mm10": _Genome("mm10", "mm10", MM10_CHROM_SIZES, MM10_CONTIGS, MM10_GENE_DENSITY, "ENSMUSG9"),
}

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
#: the marker drivers every simulation plants, each with the cell type whose cells express it
#: (explain.design perturbs them there; explain.cells knows these type names as aliases)
DRIVER_CELL_TYPES: dict[str, str] = {
    "NKG7": "NK",
    "CD79A": "B",
    "FCGR3A": "FCGR3A Mono",
    "CD8B": "CD8 T",
    "IL7R": "CD4 T",
    "CD3E": "CD8 T",
    "MS4A1": "B",
    "CD14": "CD14 Mono",
}
REQUIRED_DRIVERS = tuple(DRIVER_CELL_TYPES)
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

#: continuous states: a type and the partner it mixes with (the others are discrete)
CONTINUUM_PARTNERS = {
    "CD4 T": "CD8 T",
    "CD8 T": "CD4 T",
    "CD14 Mono": "FCGR3A Mono",
    "FCGR3A Mono": "CD14 Mono",
}
CONTINUUM_FRACTION = 0.4  # of the cells of those types, on the continuum
CONTINUUM_MAX_MIX = 0.5  # a cell past the midpoint would carry the other label

#: mouse mitochondrial genes (mm10 chrM, 0-based start), in the order of the human MT- genes
_MOUSE_MT = """
mt-Nd1 chrM 2750 3707 + mt-Nd2 chrM 3913 4951 + mt-Co1 chrM 5327 6872 +
mt-Co2 chrM 7012 7696 + mt-Atp8 chrM 7765 7969 + mt-Atp6 chrM 7926 8607 +
mt-Co3 chrM 8606 9390 + mt-Nd3 chrM 9458 9806 + mt-Nd4l chrM 9876 10173 +
mt-Nd4 chrM 10166 11544 + mt-Nd5 chrM 11741 13565 + mt-Nd6 chrM 13551 14070 -
mt-Cytb chrM 14144 15288 +
"""
#: mouse symbols where the ortholog is not the title-cased human symbol
_MOUSE_SYMBOLS = {
    "LYZ": "Lyz2",
    "CD8B": "Cd8b1",
    "HLA-B": "H2-K1",
    "HLA-DQA1": "H2-Aa",
    "FCGR3A": "Fcgr4",
    "FYB1": "Fyb",
    "HBA1": "Hba-a1",
    "HBA2": "Hba-a2",
    "HBB": "Hbb-bs",
    "HBD": "Hbb-bt",
    "HBG1": "Hbb-bh1",
    "HBG2": "Hbb-bh2",
    "HBE1": "Hbb-y",
    "HBZ": "Hba-x",
    "HBQ1": "Hbq1b",
}

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
    "medium": _Shape(3000, 10000, 15000, 100, full=False),
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
TRUTH_WINDOW = 1_000_000  # the truth table lists every peak this close to a driver's TSS
MIN_PEAK_GAP = 1_000  # bp between peaks, so a fragment touches one peak only
EDGE_MARGIN = 10_000  # bp kept free at chromosome ends when placing a peak
BLOCK_ENTRIES = 1 << 24  # matrix entries per generated cell block

# regulators (drivers and shams)
REGULATOR_GAMMA_SHAPE = 1.5  # within-type variation of a regulator: CV 1/sqrt(1.5) = 0.82
PROGRAM_DRIVER_FRACTION = 0.4  # drivers (and their shams) that also follow one program
PROGRAM_LOADING = (0.4, 0.7)  # |L| of such a regulator on its program

# link geometry: shares of all planted links (see the module docstring for the reasons)
LINK_KIND_SHARES = {"promoter": 0.15, "cis": 0.40, "distal": 0.30, "trans": 0.15}
PROMOTER_LINK_PROB = 0.8  # a driver's promoter peak is planted (always for REQUIRED_DRIVERS)
N_OTHER_LINKS = (3, 6)  # non-promoter links per driver (inclusive range)
PROXIMAL_DISTANCE = (3_000, 95_000)  # bp, log-uniform: proximal links and TSS decoys
DISTAL_DISTANCE = (110_000, 950_000)  # bp, log-uniform: distal links (same chromosome)
EFFECT_RANGE = (1.5, 3.0)  # |effect| per log1p unit at link_strength 1
POSITIVE_SHARE = 0.75  # non-promoter links (and decoys) that open with the gene
N_TSS_DECOYS = (5, 8)  # non-driven peaks near each driver's TSS
N_PROGRAM_DECOYS = (2, 3)  # of those, following the driver's program (program drivers only)
N_LINK_DECOYS = (1, 2)  # type-matched decoys around each distal or trans link
LINK_DECOY_DISTANCE = (2_000, 30_000)  # bp from the link, log-uniform
#: ``link_profile`` of :func:`simulate`: the geometry above, or distances of real links
LINK_PROFILES = ("reference", "real")
REAL_LINK_DISTANCES = "data/real_link_distances.json"  # in the package; see real_link_distances


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
    sham_path: Path | None = None
    genome: str = "hg38"
    link_strength: float = 1.0
    link_profile: str = "reference"
    trans_share: float = 0.0


@dataclass
class Layout:
    """Genes, peaks, regulators and planted links of a simulation, before any count is drawn.

    ``genes`` (sorted in genome order; ``gene`` holds the internal, human-style symbol) and
    ``peaks`` (``chrom, start, end, role, gene, kind``; ``gene`` is the row of the owning
    driver for planted peaks and decoys, else -1) are the tables :func:`simulate` writes;
    ``drivers`` / ``shams`` are rows of ``genes``; ``program`` / ``loading`` give the program
    each regulator (drivers, then shams) follows (-1 / 0 for none).
    """

    genome: _Genome
    genes: pd.DataFrame
    levels: np.ndarray  # (n_types, n_genes) UMIs at the median library
    drivers: np.ndarray
    shams: np.ndarray
    program: np.ndarray
    loading: np.ndarray
    peaks: pd.DataFrame

    @property
    def regulators(self) -> np.ndarray:
        return np.concatenate([self.drivers, self.shams])

    @property
    def planted(self) -> np.ndarray:
        """Rows of ``peaks`` that carry a planted link."""
        return np.flatnonzero(self.peaks["role"].to_numpy() == "planted")


# --------------------------------------------------------------------------- helpers


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


def _coordinate_table(text: str) -> pd.DataFrame:
    tokens = text.split()
    rows = [tokens[i : i + 5] for i in range(0, len(tokens), 5)]
    table = pd.DataFrame(rows, columns=["gene", "chrom", "start", "end", "strand"])
    table[["start", "end"]] = table[["start", "end"]].astype(np.int64)
    return table


def _random_positions(
    rng: np.random.Generator, genome: _Genome, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Chromosome (weighted by gene density) and start of genes of the given lengths."""
    chroms = genome.draw_chromosomes(rng, len(length))
    sizes = np.array([genome.chrom_sizes[c] for c in chroms])
    start = (rng.random(len(length)) * (sizes - length - 2 * EDGE_MARGIN)).astype(np.int64)
    return chroms, start + EDGE_MARGIN


def _named_gene_table(rng: np.random.Generator, genome: _Genome) -> pd.DataFrame:
    """The hand-set genes: real hg38 coordinates, or (mm10) random nuclear positions."""
    table = _coordinate_table(_NAMED_COORDS)
    if genome.name == "hg38":
        return table
    mt = table["chrom"] == "chrM"
    mouse_mt = _coordinate_table(_MOUSE_MT)
    table.loc[mt, ["start", "end", "strand"]] = mouse_mt[["start", "end", "strand"]].to_numpy()
    nuclear = np.flatnonzero(~mt.to_numpy())
    length = (table["end"] - table["start"]).to_numpy()[nuclear]
    chroms, start = _random_positions(rng, genome, length)
    table.loc[nuclear, "chrom"] = chroms
    table.loc[nuclear, "start"] = start
    table.loc[nuclear, "end"] = start + length
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


def _filler_genes(rng: np.random.Generator, shape: _Shape, genome: _Genome, n: int):
    """Positions of ``n`` non-named genes and their base levels."""
    # the full genome's distribution of levels, or a subset biased to expressed genes
    pool = _filler_levels(rng, GENOME_GENES - (shape.n_genes - n))
    chosen = pool[:n] if shape.full else pool[_top_k_weighted(rng, 0.5 * np.log(pool), n)]
    length = np.clip(rng.lognormal(np.log(16_000), 1.6, n), 500, 1_500_000).astype(np.int64)
    chroms, start = _random_positions(rng, genome, length)
    filler = pd.DataFrame(
        {
            "gene": [f"GENE{i:05d}" for i in range(1, n + 1)],
            "chrom": chroms,
            "start": start,
            "end": start + length,
            "strand": np.where(rng.random(n) < 0.5, "+", "-"),
        }
    )
    if shape.full:  # the 10x reference has a few duplicated gene names
        filler.loc[[n - 1, n - 2], "gene"] = ["GENE00101", "GENE00202"]
    return filler, chosen


def _named_levels(names: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Levels ``(n_types, n_named)`` and kinds (mt, ribo, hb, named) of the hand-set genes."""
    levels = np.zeros((len(CELL_TYPES), len(names)), dtype=np.float64)
    kind = np.full(len(names), "named", dtype=object)
    for i, gene in enumerate(names):
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
    return levels, kind


def _module_members(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n_types, n)`` membership of ``n`` modules: half a lineage, half a single type."""
    lineage = np.zeros((len(LINEAGES), len(CELL_TYPES)), dtype=bool)
    for i, members in enumerate(LINEAGES):
        lineage[i, [CELL_TYPES.index(t) for t in members]] = True
    is_lineage = rng.random(n) < 0.5
    by_lineage = lineage[rng.integers(len(LINEAGES), size=n)].T
    by_type = np.arange(len(CELL_TYPES))[:, None] == rng.integers(len(CELL_TYPES), size=n)
    return np.where(is_lineage, by_lineage, by_type)


def _add_modules(
    rng: np.random.Generator, effects: np.ndarray, columns: np.ndarray, drop: float
) -> None:
    """Make ``columns`` of a type-effect table type- or lineage-specific (in place)."""
    members = _module_members(rng, len(columns))
    lift = rng.uniform(1.5, 3.5, len(columns))
    effects[:, columns] += members * lift - drop


def _filler_type_effects(rng: np.random.Generator, n: int) -> np.ndarray:
    """Log-scale type effects of filler genes; 15% are type- or lineage-specific modules."""
    delta = rng.normal(0, 0.25, (len(CELL_TYPES), n))
    _add_modules(rng, delta, np.flatnonzero(rng.random(n) < 0.15), drop=0.7)
    return delta


def _build_genes(
    rng: np.random.Generator, shape: _Shape, genome: _Genome
) -> tuple[pd.DataFrame, np.ndarray]:
    """Gene table (sorted in genome order) and levels ``(n_types, n_genes)``."""
    named = _named_gene_table(rng, genome)
    n_filler = shape.n_genes - len(named)
    if n_filler < 0:
        raise ConfigError(f"shape needs at least {len(named)} genes")
    filler, chosen = _filler_genes(rng, shape, genome, n_filler)
    named_levels, named_kind = _named_levels(named["gene"])
    kind = np.concatenate([named_kind, np.full(n_filler, "other", dtype=object)])
    ribo = np.flatnonzero(kind == "ribo")
    ribo_weight = rng.lognormal(0, 0.5, len(ribo))
    levels = np.concatenate(
        [named_levels, chosen[None, :] * np.exp(_filler_type_effects(rng, n_filler))], axis=1
    )
    # ribosomal genes: a fixed share of *this* feature set's library, so QC fractions look
    # like real data whatever the number of genes simulated
    others = levels.sum(1).mean()
    levels[:, ribo] = others * RIBO_SHARE / (1 - RIBO_SHARE) * ribo_weight / ribo_weight.sum()
    genes = pd.concat([named, filler], ignore_index=True)
    genes["kind"] = kind
    genes["tss"] = np.where(genes["strand"] == "+", genes["start"], genes["end"] - 1)
    order = np.lexsort((genes["start"].to_numpy(), genes["chrom"].map(genome.order).to_numpy()))
    return genes.iloc[order].reset_index(drop=True), levels[:, order]


def _mouse_symbol(name: str) -> str:
    """A mouse-style symbol for an internal (human-style) one: Cd3e, Lyz2, mt-Co1, Gm00001."""
    if name in _MOUSE_SYMBOLS:
        return _MOUSE_SYMBOLS[name]
    if name.startswith("MT-"):
        rest = name[3:]
        return "mt-" + ("Cytb" if rest == "CYB" else rest[0] + rest[1:].lower())
    if name.startswith("GENE"):
        return "Gm" + name[4:]
    return name[0] + name[1:].lower()


def _symbols(genes: pd.DataFrame, genome: _Genome) -> pd.Series:
    """The gene symbols written to the files (the internal ones for hg38)."""
    if genome.name == "hg38":
        return genes["gene"]
    return genes["gene"].map(_mouse_symbol)


# --------------------------------------------------------------------------- regulators


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


def _choose_shams(
    rng: np.random.Generator, genes: pd.DataFrame, levels: np.ndarray, drivers: np.ndarray
) -> np.ndarray:
    """One sham per driver among the filler genes; sets their levels (in place).

    Sham ``i`` gets the level profile of driver ``i``: as it is for even ``i`` (a co-marker),
    with the cell types shuffled for odd ``i`` (another pattern, rescaled to the driver's
    mean over cells).
    """
    pool = np.flatnonzero((genes["kind"].to_numpy() == "other") & ~np.isin(genes.index, drivers))
    if len(pool) < len(drivers):
        raise ConfigError(f"shape: {len(pool)} filler genes are too few for {len(drivers)} shams")
    shams = rng.choice(pool, len(drivers), replace=False)
    for i, (sham, driver) in enumerate(zip(shams, drivers)):
        profile = levels[:, driver]
        if i % 2:
            shuffled = profile[rng.permutation(len(profile))]
            profile = shuffled * (TYPE_PROPORTIONS @ profile) / (TYPE_PROPORTIONS @ shuffled)
        levels[:, sham] = profile
    return shams


def _regulator_programs(rng: np.random.Generator, n_drivers: int) -> tuple[np.ndarray, np.ndarray]:
    """Program (-1: none) and loading of each regulator: drivers, then their shams.

    A sham follows a program exactly when its driver does, with the same ``|L|`` (so its
    within-type variance is the driver's), on a program and with a sign of its own.
    """
    follows = rng.random(n_drivers) < PROGRAM_DRIVER_FRACTION
    magnitude = rng.uniform(*PROGRAM_LOADING, n_drivers) * follows
    driver_program = np.where(follows, rng.integers(N_PROGRAMS, size=n_drivers), -1)
    sham_program = np.where(follows, rng.integers(N_PROGRAMS, size=n_drivers), -1)
    signs = np.where(rng.random((2, n_drivers)) < 0.5, -1.0, 1.0)
    program = np.concatenate([driver_program, sham_program])
    loading = np.concatenate([magnitude * signs[0], magnitude * signs[1]])
    return program, loading


def _expected_log1p(levels: np.ndarray) -> np.ndarray:
    """``E[log1p(m * G)]`` with ``G ~ Gamma(REGULATOR_GAMMA_SHAPE, 1/shape)``, per entry of ``m``.

    A deterministic quantile rule (64 nodes), so decoys can copy the type pattern that a
    planted link of the regulator has without drawing anything.
    """
    from scipy.stats import gamma

    k = REGULATOR_GAMMA_SHAPE
    nodes = gamma.ppf((np.arange(64) + 0.5) / 64, k, scale=1.0 / k)
    return np.log1p(levels[..., None] * nodes).mean(-1)


def _type_pattern(levels: np.ndarray, genes: np.ndarray) -> np.ndarray:
    """``(n_types, len(genes))``: expected log1p level per type, centred over cells."""
    expected = _expected_log1p(levels[:, genes])
    return expected - TYPE_PROPORTIONS @ expected


# --------------------------------------------------------------------------- link profiles


@dataclass(frozen=True)
class _LinkProfile:
    """Where a driver's planted links go.

    Its promoter peak is planted with probability ``promoter_prob`` (always for
    ``REQUIRED_DRIVERS`` when ``required_promoter``); each other link falls in ``bins[i]`` (bp
    from the TSS, log-uniform within the bin) with probability ``shares[i]``, or on another
    chromosome with the last share.
    """

    promoter_prob: float
    required_promoter: bool
    bins: tuple[tuple[float, float], ...]
    shares: np.ndarray  # one per bin, then trans; sums to 1

    @property
    def kinds(self) -> np.ndarray:
        """The layout's kind of a link in each bin, then ``trans``."""
        return np.array(
            [*("cis" if hi <= CIS_WINDOW else "distal" for _, hi in self.bins), "trans"]
        )


def real_link_distances() -> dict:
    """The distance-to-TSS shares of real links that ``link_profile="real"`` draws from.

    ``bin_edges_bp`` (8 edges, 7 bins: <= 2 kb, 2-10 kb, 10-30 kb, 30-100 kb, 100-300 kb,
    300 kb-1 Mb, > 1 Mb; the last edge only bounds the draws), per-set ``shares`` (K562 CRISPRi
    positives, fine-mapped immune eQTLs) and the ``profile`` shares, derived from the truth
    tables by ``benchmarks/truth_distances.py``.
    """
    return json.loads(resources.files("genepeak").joinpath(REAL_LINK_DISTANCES).read_text())


def _reference_profile() -> _LinkProfile:
    shares = np.array([LINK_KIND_SHARES[k] for k in ("cis", "distal", "trans")])
    bins = (PROXIMAL_DISTANCE, DISTAL_DISTANCE)
    return _LinkProfile(PROMOTER_LINK_PROB, True, bins, shares / shares.sum())


def _real_profile(trans_share: float) -> _LinkProfile:
    """The profile's bins; the <= 2 kb bin is the promoter link (see the module docstring)."""
    table = real_link_distances()
    edges, shares = table["bin_edges_bp"], np.asarray(table["profile"]["shares"], float)
    shares = np.append(shares / shares.sum() * (1 - trans_share), trans_share)
    promoter, other = shares[0], shares[1:]
    mean_other = (N_OTHER_LINKS[0] + N_OTHER_LINKS[1]) / 2
    promoter_prob = min(1.0, mean_other * promoter / (1 - promoter))
    bins = tuple(zip(edges[1:-1], edges[2:]))
    return _LinkProfile(promoter_prob, False, bins, other / other.sum())


def _check_link_profile(link_profile: str, trans_share: float) -> _LinkProfile:
    if link_profile not in LINK_PROFILES:
        raise ConfigError(
            f"simulate: unknown link_profile {link_profile!r}; choose one of: "
            f"{', '.join(LINK_PROFILES)} (reference: the fixed kind shares; real: distances "
            "of real links)"
        )
    if (
        isinstance(trans_share, bool)
        or not isinstance(trans_share, int | float | np.floating | np.integer)
        or not 0 <= trans_share < 1
    ):
        raise ConfigError(f"simulate: trans_share must be a number in [0, 1), got {trans_share!r}")
    if link_profile == "reference":
        if trans_share:
            raise ConfigError(
                "simulate: trans_share is for link_profile='real' (the reference profile "
                f"plants {LINK_KIND_SHARES['trans']:.0%} trans links)"
            )
        return _reference_profile()
    return _real_profile(float(trans_share))


# --------------------------------------------------------------------------- peaks

_PEAK_COLUMNS = ["chrom", "start", "end", "role", "gene", "kind"]


def _distal_width(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.clip(rng.lognormal(np.log(600), 0.75, n), 200, 5000).astype(np.int64)


def _log_uniform(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), n))


def _place_near(
    rng: np.random.Generator, centre: int, size: int, distance: np.ndarray
) -> np.ndarray:
    """Positions ``distance`` bp from ``centre`` on a random side that stays on the chromosome."""
    sign = np.where(rng.random(len(distance)) < 0.5, -1, 1)
    position = centre + sign * distance
    off = (position < EDGE_MARGIN) | (position > size - EDGE_MARGIN)
    position = np.where(off, centre - sign * distance, position)
    return np.clip(position, EDGE_MARGIN, size - EDGE_MARGIN).astype(np.int64)


def _block(chrom, start, width, role, gene, kind="") -> dict[str, np.ndarray]:
    """Peaks as columns (scalars are repeated): building many small frames is slow."""
    n = len(start)

    def column(value, dtype):
        return np.full(n, value, dtype=dtype) if np.ndim(value) == 0 else np.asarray(value, dtype)

    return {
        "chrom": column(chrom, object),
        "start": np.asarray(start, np.int64),
        "end": np.asarray(start, np.int64) + width,
        "role": column(role, object),
        "gene": column(gene, np.int64),
        "kind": column(kind, object),
    }


def _stack(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in blocks]) for k in _PEAK_COLUMNS}


def _peaks_at(
    rng: np.random.Generator, chrom, centre: np.ndarray, role: str, gene: int, kind=""
) -> dict[str, np.ndarray]:
    width = _distal_width(rng, len(centre))
    return _block(chrom, centre - width // 2, width, role, gene, kind)


def _promoter_peaks(
    rng: np.random.Generator,
    genes: pd.DataFrame,
    levels: np.ndarray,
    drivers: np.ndarray,
    profile: _LinkProfile,
) -> dict[str, np.ndarray]:
    """Promoter peaks of most expressed genes, some silent ones, and every driver.

    A driver's promoter peak carries its promoter link with the profile's probability.
    """
    n = len(genes)
    expressed = levels.max(0) > 0.05
    has = rng.random(n) < np.where(expressed, 0.85, 0.25)  # the nuclear genome is mostly closed
    has[genes["chrom"].to_numpy() == "chrM"] = False
    has[drivers] = True
    rows = np.flatnonzero(has)
    width = np.clip(rng.lognormal(np.log(1200), 0.4, len(rows)), 400, 4000).astype(np.int64)
    start = genes["tss"].to_numpy()[rows] - width // 2 + rng.integers(-150, 151, len(rows))
    required = genes["gene"].isin(REQUIRED_DRIVERS).to_numpy()
    linked = np.isin(rows, drivers) & (
        (profile.required_promoter & required[rows])
        | (rng.random(len(rows)) < profile.promoter_prob)
    )
    role = np.where(linked, "planted", "promoter")
    kind = np.where(linked, "promoter", "")
    return _block(genes["chrom"].to_numpy()[rows], start, width, role, rows, kind)


def _link_positions(
    rng: np.random.Generator, genome: _Genome, chrom: str, tss: int, bins: tuple, which: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Chromosome and centre of each non-promoter link of a driver at ``tss``.

    ``which`` is each link's index into ``bins`` (bp from the TSS), or ``len(bins)``: trans.
    """
    size = genome.chrom_sizes[chrom]
    chroms = np.full(len(which), chrom, dtype=object)
    centre = np.zeros(len(which), dtype=np.int64)
    for i, bounds in enumerate(bins):
        on = which == i
        centre[on] = _place_near(rng, tss, size, _log_uniform(rng, bounds, int(on.sum())))
    trans = np.flatnonzero(which == len(bins))
    weights = genome.gene_density * (np.array(genome.standard) != chrom)
    for i in trans:  # another chromosome, anywhere on it: a TF's binding site
        other = genome.standard[int(rng.choice(len(weights), p=weights / weights.sum()))]
        chroms[i] = other
        centre[i] = int(rng.uniform(EDGE_MARGIN, genome.chrom_sizes[other] - EDGE_MARGIN))
    return chroms, centre


def _neighbourhood(
    rng: np.random.Generator,
    genome: _Genome,
    genes: pd.DataFrame,
    g: int,
    follows_program: bool,
    profile: _LinkProfile,
) -> dict[str, np.ndarray]:
    """Planted non-promoter links of driver ``g`` and its decoys (see the module docstring)."""
    chrom, tss = genes.at[g, "chrom"], int(genes.at[g, "tss"])
    size = genome.chrom_sizes[chrom]
    n_links = int(rng.integers(N_OTHER_LINKS[0], N_OTHER_LINKS[1] + 1))
    which = rng.choice(len(profile.shares), n_links, p=profile.shares)
    kinds = profile.kinds[which]
    link_chrom, link_centre = _link_positions(rng, genome, chrom, tss, profile.bins, which)
    parts = [_peaks_at(rng, link_chrom, link_centre, "planted", g, kinds)]
    n_decoys = int(rng.integers(N_TSS_DECOYS[0], N_TSS_DECOYS[1] + 1))
    n_program = int(rng.integers(N_PROGRAM_DECOYS[0], N_PROGRAM_DECOYS[1] + 1))
    n_program = min(n_program, n_decoys) if follows_program else 0
    centre = _place_near(rng, tss, size, _log_uniform(rng, PROXIMAL_DISTANCE, n_decoys))
    parts.append(_peaks_at(rng, chrom, centre[:n_program], "program_matched", g))
    parts.append(_peaks_at(rng, chrom, centre[n_program:], "type_matched", g))
    for i in np.flatnonzero(kinds != "cis"):  # a distal locus is a neighbourhood of its own
        n = int(rng.integers(N_LINK_DECOYS[0], N_LINK_DECOYS[1] + 1))
        other_size = genome.chrom_sizes[link_chrom[i]]
        distance = _log_uniform(rng, LINK_DECOY_DISTANCE, n)
        centre = _place_near(rng, int(link_centre[i]), other_size, distance)
        parts.append(_peaks_at(rng, link_chrom[i], centre, "type_matched", g))
    return _stack(parts)


def _contig_peaks(rng: np.random.Generator, genome: _Genome, n_peaks: int) -> dict[str, np.ndarray]:
    """A few peaks on unplaced contigs, as in real ARC output."""
    n = max(3, round(n_peaks * 5e-4))
    contigs = [list(genome.contigs)[i % len(genome.contigs)] for i in range(n)]
    width = _distal_width(rng, n)
    room = np.array([genome.contigs[c] for c in contigs]) - width - 2_000
    start = 1_000 + (rng.random(n) * room).astype(np.int64)
    return _block(contigs, start, width, "nonstandard", -1)


def _background_peaks(rng: np.random.Generator, genome: _Genome, n: int) -> dict[str, np.ndarray]:
    """Peaks at random positions, placed with the gene density."""
    chroms = genome.draw_chromosomes(rng, n)
    sizes = np.array([genome.chrom_sizes[c] for c in chroms])
    width = _distal_width(rng, n)
    start = (rng.random(n) * (sizes - width - 2 * EDGE_MARGIN)).astype(np.int64) + EDGE_MARGIN
    return _block(chroms, start, width, "distal", -1)


def _build_peaks(
    rng: np.random.Generator,
    shape: _Shape,
    genome: _Genome,
    genes: pd.DataFrame,
    levels: np.ndarray,
    drivers: np.ndarray,
    follows_program: np.ndarray,
    profile: _LinkProfile,
) -> pd.DataFrame:
    """Peak coordinates and roles, in genome order and at least ``MIN_PEAK_GAP`` apart."""
    parts = [_promoter_peaks(rng, genes, levels, drivers, profile)]
    parts += [
        _neighbourhood(rng, genome, genes, g, f, profile) for g, f in zip(drivers, follows_program)
    ]
    parts.append(_contig_peaks(rng, genome, shape.n_peaks))
    n_background = shape.n_peaks - sum(len(p["start"]) for p in parts)
    if n_background < 0:
        raise ConfigError(f"shape: {shape.n_peaks} peaks are too few for its genes and links")
    parts.append(_background_peaks(rng, genome, n_background))
    table = pd.DataFrame(_stack(parts))
    table["record"] = np.arange(len(table))
    return _resolve_overlaps(table, genome)


def _resolve_overlaps(table: pd.DataFrame, genome: _Genome) -> pd.DataFrame:
    """Sort peaks in genome order and push them apart to at least ``MIN_PEAK_GAP`` bp.

    Peaks are pushed right where they crowd, then pulled left from the chromosome end where
    that push would run past it (both keep the order and the gaps), so only a chromosome too
    short for all its peaks can fail.
    """
    table = table.assign(order=table["chrom"].map(genome.order))
    table = table.sort_values(["order", "start", "record"], kind="stable").reset_index(drop=True)
    width = (table["end"] - table["start"]).to_numpy()
    start = table["start"].to_numpy().copy()
    sizes = genome.sizes
    for chrom, idx in table.groupby("chrom", sort=False).indices.items():
        w = width[idx]
        offset = np.concatenate([[0], np.cumsum(w[:-1] + MIN_PEAK_GAP)])
        shifted = np.maximum.accumulate(start[idx] - offset)
        shifted = np.minimum(shifted, sizes[chrom] - MIN_PEAK_GAP - w[-1] - offset[-1])
        if shifted[0] < 0:
            raise ConfigError(
                f"too many peaks for {chrom} ({len(idx)} peaks on {sizes[chrom]:,} bp with "
                f"{MIN_PEAK_GAP} bp gaps); choose a shape with fewer peaks"
            )
        start[idx] = shifted + offset
    table["start"] = start
    table["end"] = start + width
    return table.drop(columns="order")


def _layout(
    rng: np.random.Generator, spec: _Shape, genome: _Genome, profile: _LinkProfile
) -> Layout:
    genes, levels = _build_genes(rng, spec, genome)
    drivers = _choose_drivers(rng, spec, genes, levels)
    shams = _choose_shams(rng, genes, levels, drivers)
    program, loading = _regulator_programs(rng, len(drivers))
    follows = program[: len(drivers)] >= 0
    peaks = _build_peaks(rng, spec, genome, genes, levels, drivers, follows, profile)
    return Layout(genome, genes, levels, drivers, shams, program, loading, peaks)


def layout(
    shape: str = "small",
    seed: int = 0,
    genome: str = "hg38",
    link_profile: str = "reference",
    trans_share: float = 0.0,
) -> Layout:
    """Genes, peaks and planted links of ``simulate`` with the same options.

    The first step of :func:`simulate`, without drawing any count (a second or less even at
    the ``pbmc10k`` shape): for checking placement over many seeds, or for baselines that
    need only positions, such as distance to the TSS.
    """
    spec, genome_spec = _check_options(shape, seed, genome, link_strength=1.0)
    profile = _check_link_profile(link_profile, trans_share)
    return _layout(np.random.default_rng(seed), spec, genome_spec, profile)


# --------------------------------------------------------------------------- peak parameters


def _decoy_parameters(
    rng: np.random.Generator,
    layout: Layout,
    params: dict[str, np.ndarray],
    link_strength: float,
) -> None:
    """Type pattern (and program part) of a planted link of the owning driver, in place."""
    role = layout.peaks["role"].to_numpy()
    decoys = np.flatnonzero(np.isin(role, ["type_matched", "program_matched"]))
    owner = layout.peaks["gene"].to_numpy()[decoys]
    strength = link_strength * rng.uniform(*EFFECT_RANGE, len(decoys))
    strength *= np.where(rng.random(len(decoys)) < POSITIVE_SHARE, 1.0, -1.0)
    params["base"][decoys] = rng.normal(-1.0, 0.6, len(decoys))
    params["type_effect"][:, decoys] = strength * _type_pattern(layout.levels, owner)
    column = pd.Series(np.arange(len(layout.drivers)), index=layout.drivers)[owner].to_numpy()
    program, loading = layout.program[column], layout.loading[column]
    on = (role[decoys] == "program_matched") & (program >= 0)
    params["loadings"][program[on], decoys[on]] = strength[on] * loading[on]


def _peak_parameters(
    rng: np.random.Generator, shape: _Shape, layout: Layout, link_strength: float
) -> dict[str, np.ndarray]:
    """Base logit, type effects, program loadings and capture strength of every peak."""
    peaks = layout.peaks
    n, n_types = len(peaks), len(CELL_TYPES)
    role = peaks["role"].to_numpy()
    gene = peaks["gene"].to_numpy()
    # a subset biased to accessible peaks, as a feature-selected dataset is
    base = rng.normal(-4.2 if shape.full else -3.6, 1.6, n)
    promoter = role == "promoter"
    base[promoter] = rng.normal(-1.0, 1.3, promoter.sum())
    planted = role == "planted"
    base[planted] = rng.normal(-1.0, 0.6, planted.sum())
    base[role == "nonstandard"] = rng.normal(-1.5, 1.0, (role == "nonstandard").sum())
    type_effect = rng.normal(0, 0.25, (n_types, n)).astype(np.float64)
    type_effect[:, planted] = 0.0
    # a promoter mirrors its gene's type profile (it is not linked cell by cell)
    idx = np.flatnonzero(promoter)
    log_levels = np.log1p(layout.levels[:, gene[idx]])
    type_effect[:, idx] += 0.8 * (log_levels - log_levels.mean(0))
    # a third of distal peaks are type- or lineage-specific, a few follow a program
    distal = np.flatnonzero(role == "distal")
    _add_modules(rng, type_effect, distal[rng.random(len(distal)) < 0.35], drop=0.5)
    loadings = np.zeros((N_PROGRAMS, n))
    loaded = distal[rng.random(len(distal)) < 0.08]
    loadings[rng.integers(N_PROGRAMS, size=len(loaded)), loaded] = rng.normal(0, 0.8, len(loaded))
    params = dict(base=base, type_effect=type_effect, loadings=loadings)
    _decoy_parameters(rng, layout, params, link_strength)
    # decoys are as accessible as planted peaks: accessibility does not give them away
    boosted = promoter | planted | np.isin(role, ["type_matched", "program_matched"])
    params["capture"] = rng.lognormal(0, 0.75, n) * np.where(boosted, 1.5, 1.0)
    return params


def _link_effects(rng: np.random.Generator, layout: Layout, link_strength: float) -> np.ndarray:
    """Signed effect of every planted link (rows ``layout.planted``), in logit per log1p unit."""
    kind = layout.peaks["kind"].to_numpy()[layout.planted]
    magnitude = link_strength * rng.uniform(*EFFECT_RANGE, len(kind))
    sign = np.where(rng.random(len(kind)) < POSITIVE_SHARE, 1.0, -1.0)
    sign[kind == "promoter"] = 1.0  # promoters open with their gene; enhancers may also repress
    return magnitude * sign


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
    partner, mix = _continuum(rng, cell_type)
    return dict(
        cell_type=cell_type,
        partner=partner,
        mix=mix,
        damaged=damaged,
        library=library,
        depth=depth,
        mt=mt,
        ribo=ribo,
        hb=hb,
        programs=programs,
    )


def _continuum(rng: np.random.Generator, cell_type: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partner type and mixing weight ``w`` of each cell (``w = 0``: a discrete state)."""
    partner_of = np.array(
        [CELL_TYPES.index(CONTINUUM_PARTNERS.get(t, t)) for t in CELL_TYPES], dtype=np.int64
    )
    partner = partner_of[cell_type]
    on = (partner != cell_type) & (rng.random(len(cell_type)) < CONTINUUM_FRACTION)
    mix = np.where(on, rng.uniform(0, CONTINUUM_MAX_MIX, len(cell_type)), 0.0)
    return partner, mix


def _mixed(per_type: np.ndarray, cells: dict[str, np.ndarray], rows=slice(None)) -> np.ndarray:
    """Per-cell rows of a per-type table, mixed along each cell's continuum."""
    own, partner = cells["cell_type"][rows], cells["partner"][rows]
    out = per_type[own]
    w = cells["mix"][rows]
    on = np.flatnonzero(w > 0)  # only cells on a continuum need the second row
    out[on] += w[on, None].astype(per_type.dtype) * (per_type[partner[on]] - out[on])
    return out


# --------------------------------------------------------------------------- generation


def _gene_program_loadings(rng: np.random.Generator, genes: pd.DataFrame) -> np.ndarray:
    loadings = np.zeros((N_PROGRAMS, len(genes)))
    other = np.flatnonzero(genes["gene"].str.startswith("GENE").to_numpy())
    loaded = other[rng.random(len(other)) < 0.10]
    loadings[rng.integers(N_PROGRAMS, size=len(loaded)), loaded] = rng.normal(0, 0.6, len(loaded))
    return loadings


def _regulator_expression(
    rng: np.random.Generator, layout: Layout, cells: dict[str, np.ndarray]
) -> np.ndarray:
    """Expression level of every regulator (drivers, then shams) in every cell.

    ``x = m_t(c) * exp(L u_c - L^2 / 2) * G`` with the explicit gamma draw ``G`` (the
    within-type variation) and the mean-preserving program factor.
    """
    level = _mixed(layout.levels[:, layout.regulators], cells)
    k = REGULATOR_GAMMA_SHAPE
    gamma = rng.gamma(k, 1.0 / k, level.shape)
    u = cells["programs"][:, np.maximum(layout.program, 0)]
    loading = layout.loading[None, :]
    return level * np.exp(loading * u - loading**2 / 2) * gamma


def _cell_block_size(n_features: int) -> int:
    return max(8, BLOCK_ENTRIES // max(n_features, 1))


@dataclass
class _Model:
    """Everything the count generation needs, in float32 where it is used per cell block."""

    genes: pd.DataFrame
    levels: np.ndarray
    gene_loadings: np.ndarray
    rna_size: np.ndarray
    regulators: np.ndarray
    x_regulators: np.ndarray  # cells x regulators
    base: np.ndarray
    type_effect: np.ndarray
    peak_loadings: np.ndarray
    capture: np.ndarray
    link_peaks: np.ndarray
    link_effects: np.ndarray
    e_drivers: np.ndarray  # cells x drivers: log1p expression, centred over cells
    link_columns: np.ndarray  # the driver (column of e_drivers) of each link


def _model(
    rng: np.random.Generator,
    layout: Layout,
    cells: dict[str, np.ndarray],
    params: dict[str, np.ndarray],
    link_effects: np.ndarray,
) -> _Model:
    genes, regulators = layout.genes, layout.regulators
    gene_loadings = _gene_program_loadings(rng, genes)
    gene_loadings[:, regulators] = 0.0  # their program part is in their explicit draw
    size = np.exp(rng.normal(np.log(3.0), 0.5, len(genes)))
    size[regulators] = 1e6  # Poisson given the explicit gamma draw
    x_regulators = _regulator_expression(rng, layout, cells)
    e_drivers = np.log1p(x_regulators[:, : len(layout.drivers)])
    e_centred = e_drivers - e_drivers.mean(0)
    column = pd.Series(np.arange(len(layout.drivers)), index=layout.drivers)
    link_peaks = layout.planted
    link_genes = layout.peaks["gene"].to_numpy()[link_peaks]
    f32 = np.float32
    return _Model(
        genes=genes,
        levels=layout.levels.astype(f32),
        gene_loadings=gene_loadings.astype(f32),
        rna_size=size.astype(f32)[None, :],
        regulators=regulators,
        x_regulators=x_regulators.astype(f32),
        base=params["base"].astype(f32),
        type_effect=params["type_effect"].astype(f32),
        peak_loadings=params["loadings"].astype(f32),
        capture=(params["capture"] * ATAC_DEPTH).astype(f32),
        link_peaks=link_peaks,
        link_effects=link_effects.astype(f32),
        e_drivers=e_centred.astype(f32),
        link_columns=column[link_genes].to_numpy(),
    )


def _rna_means(model: _Model, cells: dict[str, np.ndarray], rows: slice) -> np.ndarray:
    kind = model.genes["kind"].to_numpy()
    mt, ribo, hb = (np.flatnonzero(kind == k) for k in ("mt", "ribo", "hb"))
    mt_weight = np.array([8, 5, 12, 10, 2, 8, 10, 3, 1, 8, 3, 1, 5], dtype=float)[: len(mt)]
    u = cells["programs"][rows].astype(np.float32)
    mean = _mixed(model.levels, cells, rows) * np.exp(u @ model.gene_loadings)
    mean[:, ribo] *= cells["ribo"][rows, None].astype(np.float32)
    mean[:, hb] *= cells["hb"][rows, None].astype(np.float32)
    mean[:, model.regulators] = model.x_regulators[rows]
    mean *= cells["library"][rows].astype(np.float32)[:, None]
    f = cells["mt"][rows]
    share = (f / (1 - f))[:, None] * mean.sum(1, keepdims=True) * (mt_weight / mt_weight.sum())
    mean[:, mt] = share.astype(np.float32)
    return mean


def _fragment_rates(model: _Model, cells: dict[str, np.ndarray], rows: slice) -> np.ndarray:
    u = cells["programs"][rows].astype(np.float32)
    logit = model.base + _mixed(model.type_effect, cells, rows) + u @ model.peak_loadings
    logit[:, model.link_peaks] += model.link_effects * model.e_drivers[rows][:, model.link_columns]
    depth = cells["depth"][rows, None].astype(np.float32)
    with np.errstate(over="ignore"):
        return depth * model.capture / (1 + np.exp(-logit))


def _generate_matrix(
    rng: np.random.Generator,
    model: _Model,
    cells: dict[str, np.ndarray],
    writer: TenxH5Writer,
    keep_fragments: bool,
) -> dict[str, np.ndarray]:
    """Draw counts block by block and stream them into ``writer``. Returns per-cell totals."""
    n_cells, n_genes = len(cells["cell_type"]), len(model.genes)
    n_peaks = len(model.base)
    mt = np.flatnonzero(model.genes["kind"].to_numpy() == "mt")
    totals = {
        k: np.zeros(n_cells, dtype=np.int64)
        for k in ("rna", "genes", "mt", "atac", "peaks", "fragments")
    }
    fragments = []
    block = _cell_block_size(n_genes + n_peaks)
    starts = range(0, n_cells, block)
    for first in progress(starts, "simulating cells", total=len(starts)):
        rows = slice(first, min(first + block, n_cells))
        n_rows = rows.stop - rows.start
        r_rna, c_rna, v_rna = _sample_counts(rng, _rna_means(model, cells, rows), model.rna_size)
        r_frag, c_frag, n_frag = _sample_counts(rng, _fragment_rates(model, cells, rows), None)
        two_cut = rng.binomial(n_frag, TWO_CUT_PROB).astype(np.int32)
        rna = sp.csr_matrix((v_rna, (r_rna, c_rna)), shape=(n_rows, n_genes))
        atac = sp.csr_matrix((n_frag + two_cut, (r_frag, c_frag)), shape=(n_rows, n_peaks))
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


# --------------------------------------------------------------------------- outputs


def _peak_names(peaks: pd.DataFrame) -> pd.Series:
    return peaks["chrom"] + ":" + peaks["start"].astype(str) + "-" + peaks["end"].astype(str)


def _features(genes: pd.DataFrame, peaks: pd.DataFrame, genome: _Genome) -> pd.DataFrame:
    gene_interval = (
        genes["chrom"] + ":" + genes["start"].astype(str) + "-" + genes["end"].astype(str)
    )
    peak_names = _peak_names(peaks)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "id": [f"{genome.gene_id_prefix}{i:010d}" for i in range(len(genes))],
                    "name": _symbols(genes, genome),
                    "feature_type": "Gene Expression",
                    "genome": genome.label,
                    "interval": gene_interval,
                }
            ),
            pd.DataFrame(
                {
                    "id": peak_names,
                    "name": peak_names,
                    "feature_type": "Peaks",
                    "genome": genome.label,
                    "interval": peak_names,
                }
            ),
        ],
        ignore_index=True,
    )


def _truth_kind(role, owned, same, distance) -> np.ndarray:
    """The ``kind`` column: planted kinds by final position, then decoys, then neighbours."""
    far = np.abs(np.where(same, distance, np.inf))
    planted = np.select(
        [far <= PROMOTER_WINDOW, far <= CIS_WINDOW, same], ["promoter", "cis", "distal"], "trans"
    )
    other = np.select(
        [owned & (role == "type_matched"), owned & (role == "program_matched"), far <= CIS_WINDOW],
        ["null_type_matched", "null_program", "null_cis"],
        "null_distal",
    )
    return np.where(owned & (role == "planted"), planted, other)


def _ground_truth(layout: Layout, link_effects: np.ndarray) -> pd.DataFrame:
    """For every driver: its planted links, its decoys and every peak within 1 Mb of its TSS."""
    peaks, genes = layout.peaks, layout.genes
    symbols = _symbols(genes, layout.genome).to_numpy()
    names = _peak_names(peaks).to_numpy()
    centre = ((peaks["start"] + peaks["end"]) // 2).to_numpy()
    chrom, role = peaks["chrom"].to_numpy(), peaks["role"].to_numpy()
    owned_role = np.isin(role, ["planted", "type_matched", "program_matched"])
    owner = np.where(owned_role, peaks["gene"].to_numpy(), -1)
    effect = np.zeros(len(peaks))
    effect[layout.planted] = link_effects
    on_chrom = peaks.groupby("chrom", sort=False).indices  # peaks are in genome order
    tables = []
    for g in layout.drivers:
        g_chrom, tss = genes.at[g, "chrom"], int(genes.at[g, "tss"])
        rows = on_chrom[g_chrom]
        lo, hi = np.searchsorted(centre[rows], [tss - TRUTH_WINDOW, tss + TRUTH_WINDOW + 1])
        rows = np.union1d(rows[lo:hi], np.flatnonzero(owner == g))
        same = chrom[rows] == g_chrom
        owned = owner[rows] == g
        distance = centre[rows] - tss
        tables.append(
            pd.DataFrame(
                {
                    "gene": symbols[g],
                    "peak": names[rows],
                    "effect": np.round(np.where(owned, effect[rows], 0.0), 4),
                    "planted": owned & (role[rows] == "planted"),
                    "kind": _truth_kind(role[rows], owned, same, distance),
                    "chrom": chrom[rows],
                    "distance_to_tss": pd.array(np.where(same, distance, 0), dtype="Int64"),
                }
            )
        )
        tables[-1].loc[~same, "distance_to_tss"] = pd.NA
    return pd.concat(tables, ignore_index=True)


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
    genome: _Genome,
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
    frame["order"] = frame["chrom"].map(genome.order)
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


def _check_options(
    shape: str, seed: int, genome: str, link_strength: float
) -> tuple[_Shape, _Genome]:
    if shape not in SHAPES:
        raise ConfigError(f"simulate: unknown shape {shape!r}; choose one of: {', '.join(SHAPES)}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"simulate: seed must be a non-negative integer, got {seed!r}")
    if genome not in GENOMES:
        raise ConfigError(
            f"simulate: unknown genome {genome!r}; choose one of: {', '.join(GENOMES)}"
        )
    if (
        isinstance(link_strength, bool)
        or not isinstance(link_strength, int | float | np.floating | np.integer)
        or not 0 < link_strength <= 10
    ):
        raise ConfigError(
            f"simulate: link_strength must be a number in (0, 10] (1.0: the default effects, "
            f"0.5: half as strong), got {link_strength!r}"
        )
    return SHAPES[shape], GENOMES[genome]


def _check_out_dir(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError(f"simulate: {out_dir} exists and is not a folder; choose another --out")
    if any(out_dir.iterdir()) and not (out_dir / "ground_truth_links.tsv").exists():
        raise InputError(
            f"simulate: {out_dir} is not empty and holds no previous simulation; "
            "choose a new or empty folder so nothing of yours is overwritten"
        )


def _write_tables(
    tmp: Path,
    rng: np.random.Generator,
    layout: Layout,
    link_effects: np.ndarray,
    cells: dict[str, np.ndarray],
    barcodes: list[str],
    totals: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Every file beside the matrix; returns the truth table."""
    genes, peaks = layout.genes, layout.peaks
    peaks[["chrom", "start", "end"]].to_csv(
        tmp / "atac_peaks.bed", sep="\t", header=False, index=False
    )
    _per_barcode_metrics(rng, barcodes, totals).to_csv(tmp / "per_barcode_metrics.csv", index=False)
    truth = _ground_truth(layout, link_effects)
    _write_tsv(truth, tmp / "ground_truth_links.tsv")
    symbols = _symbols(genes, layout.genome)
    _write_tsv(pd.DataFrame({"gene": symbols.to_numpy()[layout.shams]}), tmp / "sham_genes.tsv")
    labels = pd.DataFrame(
        {"barcode": barcodes, "cell_type": np.asarray(CELL_TYPES)[cells["cell_type"]]}
    )
    _write_tsv(labels, tmp / "cell_types.tsv")
    annotation = genes[["gene", "chrom", "start", "end", "strand", "tss"]].assign(gene=symbols)
    _write_tsv(annotation, tmp / "gene_annotation.tsv")
    return truth


def simulate(
    out_dir: str | os.PathLike,
    shape: str = "small",
    seed: int = 0,
    fragments: bool = False,
    link_strength: float = 1.0,
    genome: str = "hg38",
    link_profile: str = "reference",
    trans_share: float = 0.0,
) -> SimulationResult:
    """Simulate a PBMC-like 10x multiome sample with planted gene -> peak links.

    Parameters
    ----------
    out_dir
        Folder to create (written atomically). An existing folder is replaced only when it
        holds a previous simulation (it has ``ground_truth_links.tsv``) or is empty.
    shape
        ``tiny`` (300 cells, tests), ``small`` (1,800 cells, the default dataset),
        ``medium`` (3,000 x 10,000 genes x 15,000 peaks, 100 drivers; benchmarks),
        ``pbmc3k`` (2,711 x 36,601 genes x 98,319 peaks) or ``pbmc10k`` (10,508 cells,
        about 10,150 x 25,600 x 43,000 after the default preparation).
    seed
        Seed of the one random generator; the same seed gives byte-identical files.
    fragments
        Also write ``atac_fragments.tsv.gz`` + ``.tbi`` (``tiny``, ``small``, ``medium``).
    link_strength
        Scales every planted effect (and, alike, the decoys that mimic a link's cell-type
        pattern); 1.0 gives ``|effect|`` 1.5-3.0 logit per log1p unit, 0.5 half of that.
    genome
        ``hg38`` or ``mm10`` (mouse chromosomes, ``genome`` "mm10" in the h5, mouse-style
        symbols such as ``Cd3e`` and ``mt-Co1``).
    link_profile
        Where planted links sit: ``reference`` (the fixed kind shares of ``LINK_KIND_SHARES``;
        the same bytes as before the option existed) or ``real`` (distances to the TSS drawn
        from the shares of real links, :func:`real_link_distances`; no trans links unless
        ``trans_share`` asks for them).
    trans_share
        With ``link_profile="real"``: the share of planted links on another chromosome
        (default 0: the real tables are cis-only screens and cis eQTLs).

    Returns
    -------
    SimulationResult with the paths written and the shape.
    """
    spec, genome_spec = _check_options(shape, seed, genome, link_strength)
    profile = _check_link_profile(link_profile, trans_share)
    if fragments and spec.full:
        raise ConfigError(
            f"simulate: fragments=True is supported for the tiny, small and medium shapes only "
            f"(a {shape} fragments file would hold ~10^8 lines); drop fragments or pick another"
        )
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    rng = np.random.default_rng(seed)
    log(
        f"simulating shape {shape!r} ({spec.n_cells} cells x {spec.n_genes} genes x "
        f"{spec.n_peaks} peaks, {genome}), seed {seed}, link strength {link_strength}, "
        f"{link_profile} link profile"
    )
    layout = _layout(rng, spec, genome_spec, profile)
    link_effects = _link_effects(rng, layout, link_strength)
    params = _peak_parameters(rng, spec, layout, link_strength)
    cells = _build_cells(rng, spec.n_cells)
    barcodes = _barcodes(rng, spec.n_cells)
    features = _features(layout.genes, layout.peaks, genome_spec)
    model = _model(rng, layout, cells, params, link_effects)

    with atomic_path(out_dir, is_dir=True) as tmp:
        tmp.chmod(0o755)  # mkdtemp makes it private; a dataset folder is readable like any other
        h5_path = tmp / "filtered_feature_bc_matrix.h5"
        with TenxH5Writer(h5_path, barcodes, features) as writer:
            totals = _generate_matrix(rng, model, cells, writer, keep_fragments=fragments)
        truth = _write_tables(tmp, rng, layout, link_effects, cells, barcodes, totals)
        if fragments:
            _write_fragments(
                rng,
                tmp / "atac_fragments.tsv.gz",
                barcodes,
                layout.peaks,
                totals["fragment_table"],
                genome_spec,
            )
    log(
        f"wrote {out_dir}: {int(truth['planted'].sum())} planted links for "
        f"{len(layout.drivers)} genes, {len(layout.shams)} sham genes"
    )
    options = dict(genome=genome, link_strength=float(link_strength), link_profile=link_profile)
    options["trans_share"] = float(trans_share)
    return _result(out_dir, spec.n_cells, layout, fragments, options)


def _result(
    out_dir: Path, n_cells: int, layout, fragments: bool, options: dict
) -> SimulationResult:
    """The paths of what :func:`simulate` wrote, and the shape."""
    return SimulationResult(
        out_dir=out_dir,
        h5_path=out_dir / "filtered_feature_bc_matrix.h5",
        links_path=out_dir / "ground_truth_links.tsv",
        labels_path=out_dir / "cell_types.tsv",
        annotation_path=out_dir / "gene_annotation.tsv",
        n_cells=n_cells,
        n_genes=len(layout.genes),
        n_peaks=len(layout.peaks),
        peaks_path=out_dir / "atac_peaks.bed",
        metrics_path=out_dir / "per_barcode_metrics.csv",
        fragments_path=out_dir / "atac_fragments.tsv.gz" if fragments else None,
        sham_path=out_dir / "sham_genes.tsv",
        **options,
    )


make_module_callable(__name__, "genepeak.simulate:simulate")
