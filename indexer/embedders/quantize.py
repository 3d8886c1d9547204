"""Quantise a model's ONNX export to int8, calibrated on photographs, and check what it costs.

Static quantisation with ONNX Runtime's tools: int8 weights per output channel (one scale
per filter keeps the small filters of depthwise layers exact enough), uint8 activations with
ranges measured on real photographs (the calibration set's photographs and their edits and
parts: calibration.py), written as QuantizeLinear/DequantizeLinear pairs that ONNX Runtime
fuses into integer convolutions. The check is on the other photographs, which the ranges
never saw. Weights keep all 8 bits (no reduce_range): on VNNI CPUs the sums are 32-bit;
elsewhere they may saturate (hardware.cpu_has_vnni), and the check then drops int8. With 7
bits ResNet18's least cosine fell from 0.99989 to 0.99954 and one run was slower.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from core.imaging import Preprocessing
from core.metrics import unit_rows
from samples.pictures import photographs

from .calibration import CALIBRATION_PHOTOS, EDITS, PARTS, calibration_crops

# The least cosine between a candidate's embedding and fp32's, on every held-out photograph,
# for a faster precision (int8, bf16) to be used at all.
MIN_COSINE = 0.99


def calibration_inputs(preprocessing: Preprocessing) -> np.ndarray:
    """Return the uint8 crops the activation ranges are measured on: CALIBRATION_PHOTOS,
    each as itself, its edited copies and its parts (80 crops)."""
    pictures = list(photographs(CALIBRATION_PHOTOS).values())
    return calibration_crops(pictures, preprocessing, EDITS, PARTS)[0]


def held_out_inputs(preprocessing: Preprocessing) -> np.ndarray:
    """Return the crops of the photographs the calibration never sees (the check's)."""
    held = [p for name, p in photographs().items() if name not in CALIBRATION_PHOTOS]
    return calibration_crops(held, preprocessing, {}, {})[0]


def quantize_int8(graph: bytes, crops: np.ndarray) -> bytes:
    """Return `graph` (uint8 NHWC "pixels" in, any batch) statically quantised to int8."""
    # Imported here: only the first run of a model on a machine quantises.
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Crops(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"pixels": crops[i:i + 8]} for i in range(0, len(crops), 8)])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as folder:
        source, prepared, dest = (os.path.join(folder, name) for name in
                                  ("model.onnx", "prepared.onnx", "int8.onnx"))
        with open(source, "wb") as f:
            f.write(graph)
        # Shapes inferred and constants folded first, as ONNX Runtime's documentation asks.
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        # MinMax: percentile and entropy ranges gave no closer embeddings on ResNet18.
        quantize_static(prepared, dest, Crops(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        with open(dest, "rb") as f:
            return f.read()


def min_cosine(features: np.ndarray, reference: np.ndarray) -> float:
    """Return the least cosine between matching rows of two feature matrices."""
    return float(np.min(np.sum(unit_rows(features)[0] * unit_rows(reference)[0], axis=1)))
