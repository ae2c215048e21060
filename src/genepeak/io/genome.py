"""Reference genomes genepeak knows: chromosome sizes, standard chromosomes, TSS annotation.

The chromosome sizes (UCSC names) are those of the assemblies; they set the genome size
MACS3 assumes when calling peaks (snapatac2 sums the sizes it is given) and which
chromosomes count as standard (autosomes, X, Y). snapatac2 ships the same genomes, but its
gene annotations (GFF3) are downloaded on first use; :func:`cached_annotation` returns one
only when it is already on disk, so nothing here needs the internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genepeak.errors import ConfigError

# UCSC chrom.sizes of each assembly, standard chromosomes and chrM
_HG38 = dict(
    chr1=248956422, chr2=242193529, chr3=198295559, chr4=190214555, chr5=181538259,
    chr6=170805979, chr7=159345973, chr8=145138636, chr9=138394717, chr10=133797422,
    chr11=135086622, chr12=133275309, chr13=114364328, chr14=107043718, chr15=101991189,
    chr16=90338345, chr17=83257441, chr18=80373285, chr19=58617616, chr20=64444167,
    chr21=46709983, chr22=50818468, chrX=156040895, chrY=57227415, chrM=16569,
)  # fmt: skip
_HG19 = dict(
    chr1=249250621, chr2=243199373, chr3=198022430, chr4=191154276, chr5=180915260,
    chr6=171115067, chr7=159138663, chr8=146364022, chr9=141213431, chr10=135534747,
    chr11=135006516, chr12=133851895, chr13=115169878, chr14=107349540, chr15=102531392,
    chr16=90354753, chr17=81195210, chr18=78077248, chr19=59128983, chr20=63025520,
    chr21=48129895, chr22=51304566, chrX=155270560, chrY=59373566, chrM=16571,
)  # fmt: skip
_MM10 = dict(
    chr1=195471971, chr2=182113224, chr3=160039680, chr4=156508116, chr5=151834684,
    chr6=149736546, chr7=145441459, chr8=129401213, chr9=124595110, chr10=130694993,
    chr11=122082543, chr12=120129022, chr13=120421639, chr14=124902244, chr15=104043685,
    chr16=98207768, chr17=94987271, chr18=90702639, chr19=61431566, chrX=171031299,
    chrY=91744698, chrM=16299,
)  # fmt: skip
_GRCM39 = dict(
    chr1=195154279, chr2=181755017, chr3=159745316, chr4=156860686, chr5=151758149,
    chr6=149588044, chr7=144995196, chr8=130127694, chr9=124359700, chr10=130530862,
    chr11=121973369, chr12=120092757, chr13=120883175, chr14=125139656, chr15=104073951,
    chr16=98008968, chr17=95294699, chr18=90720763, chr19=61420004, chrX=169476592,
    chrY=91455967, chrM=16299,
)  # fmt: skip


@dataclass(frozen=True)
class Genome:
    """One reference assembly."""

    name: str
    species: str  # "human" or "mouse"
    chrom_sizes: dict[str, int]
    snapatac2_name: str  # attribute of snapatac2.genome
    annotation_file: str  # the GFF3 snapatac2 would download for it

    @property
    def standard_chromosomes(self) -> frozenset[str]:
        """Autosomes, X and Y in UCSC names (no chrM, no unplaced contigs)."""
        return frozenset(c for c in self.chrom_sizes if c != "chrM")

    def nuclear_sizes(self) -> dict[str, int]:
        """Sizes of the standard chromosomes (the genome MACS3 calls peaks on)."""
        return {c: s for c, s in self.chrom_sizes.items() if c != "chrM"}


_GENOMES = {
    "hg38": Genome("hg38", "human", _HG38, "hg38", "gencode_v41_GRCh38.gff3.gz"),
    "hg19": Genome("hg19", "human", _HG19, "hg19", "gencode_v41_GRCh37.gff3.gz"),
    "mm10": Genome("mm10", "mouse", _MM10, "mm10", "gencode_vM25_GRCm38.gff3.gz"),
    "GRCm39": Genome("GRCm39", "mouse", _GRCM39, "GRCm39", "gencode_vM30_GRCm39.gff3.gz"),
}
ALIASES = {"GRCh38": "hg38", "GRCh37": "hg19", "GRCm38": "mm10", "mm39": "GRCm39"}


def get_genome(name: str) -> Genome:
    """The genome called ``name`` (hg38, hg19, mm10, GRCm39 or an alias such as GRCh38)."""
    key = ALIASES.get(name, name)
    if key not in _GENOMES:
        valid = ", ".join([*_GENOMES, *ALIASES])
        raise ConfigError(f"genome {name!r} is not known; choose one of: {valid}")
    return _GENOMES[key]


def cached_annotation(genome: Genome) -> Path | None:
    """snapatac2's GFF3 for ``genome`` when it is already on disk (never downloads).

    Looks where snapatac2's data registry keeps it: ``$SNAP_DATA_DIR`` or pooch's cache.
    """
    import os

    folders = []
    if os.environ.get("SNAP_DATA_DIR"):
        folders.append(Path(os.environ["SNAP_DATA_DIR"]))
    try:
        import pooch

        folders.append(Path(pooch.os_cache("snapatac2")))
    except ImportError:  # pragma: no cover - pooch comes with snapatac2
        pass
    for folder in folders:
        candidate = folder / genome.annotation_file
        if candidate.is_file():
            return candidate
    return None


# how Cell Ranger (ARC) references name their genome in ``features/genome``
_TENX_LABELS = (
    ("GRCh38", "hg38"),
    ("hg38", "hg38"),
    ("GRCh37", "hg19"),
    ("hg19", "hg19"),
    ("GRCm39", "GRCm39"),
    ("mm39", "GRCm39"),
    ("GRCm38", "mm10"),
    ("mm10", "mm10"),
)


def genome_from_labels(labels) -> str | None:
    """The genome a 10x ``genome`` feature column names (``GRCh38``, ``mm10``, ...), or None.

    None when the column is empty, names several genomes (e.g. a barnyard reference) or
    names none genepeak knows.
    """
    found = set()
    for label in {str(v) for v in labels if str(v) not in ("", "nan")}:
        match = next((name for key, name in _TENX_LABELS if key.lower() in label.lower()), None)
        found.add(match)
    if len(found) != 1 or None in found:
        return None
    return found.pop()
