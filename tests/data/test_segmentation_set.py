import ast
from pathlib import Path

import torch

import chanpos.data
import chanpos.data.segmentation as segmentation
from chanpos.data import SegmentationSet, SegmentationSource, collate_segmentation, load_streets
from chanpos.data import segmentation_set as leaf

DATA = Path(chanpos.data.__file__).parent


def _toy(n: int = 4) -> SegmentationSet:
    return SegmentationSet("toy", torch.zeros(n, 3, 4, 6, dtype=torch.uint8),
                           torch.arange(n, dtype=torch.uint8).view(n, 1, 1).expand(n, 4, 6),
                           tuple(f"img{i}" for i in range(n)), ("a", "b"), ((0, 0, 0), (9, 9, 9)),
                           (0.5, 0.5, 0.5), (0.2, 0.2, 0.2))


def test_segmentation_set_satisfies_the_protocol_and_batches() -> None:
    data = _toy()
    assert isinstance(data, SegmentationSource) and data.num_classes == 2
    assert isinstance(load_streets(split="val", num_samples=2, height=16, width=16),
                      SegmentationSource)
    images, labels = collate_segmentation(data.__getitems__([3, 1]))
    assert images.shape == (2, 3, 4, 6) and labels[:, 0, 0].tolist() == [3, 1]
    images, labels = collate_segmentation([data[0], data[2]])
    assert labels[:, 0, 0].tolist() == [0, 2]
    picked = data.select([2, 0])
    assert picked.names == ("img2", "img0") and len(data.subset(3)) == 3


def test_protocol_rejects_a_source_without_the_metadata() -> None:
    class Bare(torch.utils.data.Dataset):
        names = ("x",)

        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.zeros(3, 2, 2, dtype=torch.uint8), torch.zeros(2, 2, dtype=torch.uint8)

    assert not isinstance(Bare(), SegmentationSource)


def test_old_import_paths_still_work() -> None:
    assert segmentation.SegmentationSet is leaf.SegmentationSet is chanpos.data.SegmentationSet
    assert segmentation.collate_segmentation is leaf.collate_segmentation
    assert segmentation.SegmentationSource is leaf.SegmentationSource
    for name in ("load_segmentation_source", "read_name_list", "select_by_names",
                 "SEGMENTATION_SOURCES"):
        assert hasattr(segmentation, name)
    from chanpos.data.sources import read_cifar  # moved to .cifar, still importable here

    assert read_cifar is chanpos.data.read_cifar


def _imports() -> dict[str, set[str]]:
    """Sibling data modules each data module imports (relative imports, any depth in the file)."""
    graph: dict[str, set[str]] = {}
    for path in DATA.glob("*.py"):
        if path.stem == "__init__":
            continue
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chanpos.data."):
                found.add(node.module.split(".")[2])
        graph[path.stem] = found
    return graph


def test_no_import_cycle_among_data_modules() -> None:
    graph = _imports()
    assert {"segmentation", "streets", "segmentation_set", "cifar", "sources"} <= set(graph)

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            mod = todo.pop()
            if mod in graph and mod not in seen:
                seen.add(mod)
                todo.extend(graph[mod])
        return seen

    cycles = [mod for mod in graph if mod in reach(mod)]
    assert not cycles, f"import cycles through {cycles}: {graph}"
    assert graph["streets"] == {"segmentation_set"}
    assert {"streets", "cityscapes", "segmentation_set"} <= graph["segmentation"]


def test_leaf_imports_torch_and_the_standard_library_only() -> None:
    tree = ast.parse((DATA / "segmentation_set.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the leaf must not import chanpos modules"
            roots.add((node.module or "").split(".")[0])
    assert roots <= {"__future__", "dataclasses", "typing", "torch"}
