"""Built-in datasets: one line per name, where the registry learns its import string (importing this module
imports nothing heavy). A ``config=`` names a preset of a class (the folder layout of a segmentation set)."""

from __future__ import annotations

from ledbench.datasets.registry import DATASETS

DATASETS.register("synth_mini", "ledbench.datasets.synth_mini:SynthMini")
DATASETS.register("lolblur", "ledbench.datasets.lolblur:LOLBlur", aliases=("lol_blur",))
DATASETS.register("real_lolblur", "ledbench.datasets.folder:RealLOLBlur", aliases=("real_lol_blur",))
DATASETS.register("folder", "ledbench.datasets.folder:FolderDataset")
DATASETS.register("coco", "ledbench.datasets.coco:CocoDetection")
DATASETS.register("yolo", "ledbench.datasets.coco:YoloDetection")
DATASETS.register("exdark", "ledbench.datasets.coco:ExDark")
DATASETS.register("segmentation", "ledbench.datasets.segmentation:SegmentationDataset")
DATASETS.register("cityscapes", "ledbench.datasets.segmentation:SegmentationDataset", config={"layout": "cityscapes"})
DATASETS.register("acdc", "ledbench.datasets.segmentation:SegmentationDataset", config={"layout": "acdc"})
DATASETS.register("dark_zurich", "ledbench.datasets.segmentation:SegmentationDataset",
                  config={"layout": "dark_zurich"})
DATASETS.register("depth", "ledbench.datasets.depth:DepthDataset")
DATASETS.register("synth", "ledbench.datasets.sweep:SynthFolderSweep")
