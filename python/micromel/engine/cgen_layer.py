"""The C of one layer for mm_model_data.h: its weight, parameter and table arrays, and the
calls that run it row by row (the arena places, ring buffers and row caches the schedule
gave it). cgen.data_header strings these together."""
from __future__ import annotations

import numpy as np

from . import schedule
from .kernels import KernelData
from .schedule import Schedule


def c_array(ctype: str, name: str, values, per_line: int = 16, align: int = 4) -> str:
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    if not vals:
        vals = ["0"]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    body = ",\n  ".join(lines)
    return (f"static const {ctype} {name}[{len(vals)}] __attribute__((aligned({align}))) = {{\n"
            f"  {body}}};\n")


def tensor_ptr(sched: Schedule, tid: int) -> str:
    return f"(mm_model_arena + {sched.offset(tid)})"


def _cache(sched: Schedule, tid: int):
    sp = sched.stream
    return sp.caches.get(tid) if sp is not None else None


def _row_expr(sched: Schedule, tid: int, row: str) -> str:
    if _cache(sched, tid) is not None:
        return f"mm_model_rowptr{tid}({row})"
    pl = sched.place(tid)
    base = f"mm_model_arena + {pl.buffer.offset}"
    if pl.kind == "ring":
        return f"{base} + (({row}) % {pl.ring_rows}) * {pl.row_bytes}"
    return f"{base} + ({row}) * {pl.row_bytes}"


def pad_name(zp: int) -> str:
    return f"mm_model_pad_{'m' if zp < 0 else 'p'}{abs(zp)}"


def _rq_array(name: str, rq: np.ndarray) -> str:
    rows = ",\n  ".join("{" + ", ".join(str(int(v)) for v in r) + "}" for r in rq)
    return f"static const mm_nn_rq {name}[{len(rq)}] = {{\n  {rows}}};\n"


def out_ref(kd: KernelData, i: int) -> str:
    p = kd.layer.params
    rq = f"MM_MODEL_RQ{i}" if kd.layer.kind in ("conv", "fc", "dwconv") else f"mm_model_rq{i}"
    return (f"{{{rq}, {int(p['act_min'])}, {int(p['act_max'])}, "
            f"{1 if kd.exact else 0}}}")


def layer_data(lay, kd: KernelData) -> str:
    i = lay.index
    p = lay.params
    o = [f"/* layer {i}: {lay.op} {lay.in_shape} -> {lay.out_shape} '{lay.name[:80]}' */\n"]
    if lay.kind in ("conv", "fc"):
        # DSP builds: the matrix engine's stream (weights, biases and records);
        # portable builds: int8 weights and records
        o.append("#if MM_NN_DSP\n" + c_array("int32_t", f"mm_model_s{i}", kd.stream, 8)
                 + f"#define MM_MODEL_W{i} 0\n#define MM_MODEL_S{i} mm_model_s{i}\n"
                 f"#define MM_MODEL_RQ{i} 0\n#else\n"
                 + c_array("int8_t", f"mm_model_w{i}", kd.w8, 32)
                 + _rq_array(f"mm_model_rq{i}", kd.rq)
                 + f"#define MM_MODEL_W{i} mm_model_w{i}\n#define MM_MODEL_S{i} 0\n"
                 f"#define MM_MODEL_RQ{i} mm_model_rq{i}\n#endif\n")
        if lay.kind == "conv":
            (kh, kw), (sh, sw) = p["kernel"], p["stride"]
            h, w, c = lay.in_shape
            oh, ow, oc = lay.out_shape
            pad_l = p["pad"][1]
        else:
            kh = kw = sh = sw = 1
            c, oc, w, ow, pad_l = kd.k, lay.weights.shape[0], p["rows"], p["rows"], 0
        o.append(f"static const mm_nn_conv_params mm_model_p{i} = {{\n"
                 f"  .weights = MM_MODEL_W{i}, .stream = MM_MODEL_S{i}, .out = {out_ref(kd, i)},\n"
                 f"  .in_w = {w}, .in_c = {c}, .out_w = {ow}, .out_c = {oc}, .k = {kd.k}, "
                 f".row_k = {kd.extra['row_k']},\n"
                 f"  .kh = {kh}, .kw = {kw}, .sh = {sh}, .sw = {sw}, .pad_l = {pad_l}, "
                 f".zp_in = {int(p['zp_in'])}, .w16 = {int(kd.w16)}}};\n\n")
    elif lay.kind == "dwconv":
        h, w, c = lay.in_shape
        (kh, kw), (sh, sw) = p["kernel"], p["stride"]
        plain = (c_array("int8_t", f"mm_model_w{i}", kd.w8, 32) + _rq_array(f"mm_model_rq{i}", kd.rq)
                 + f"#define MM_MODEL_W{i} mm_model_w{i}\n#define MM_MODEL_RQ{i} mm_model_rq{i}\n"
                 f"#define MM_MODEL_S{i} 0\n")
        if kd.extra.get("dsp_stream"):
            # DSP builds: the stream only (weights, biases, records)
            o.append("#if MM_NN_DSP\n" + c_array("int32_t", f"mm_model_s{i}", kd.stream, 8)
                     + f"#define MM_MODEL_W{i} 0\n#define MM_MODEL_RQ{i} 0\n"
                     f"#define MM_MODEL_S{i} mm_model_s{i}\n#else\n" + plain + "#endif\n")
        else:
            o.append(plain)
        o.append(f"static const mm_nn_dwconv_params mm_model_p{i} = {{\n"
                 f"  .weights = MM_MODEL_W{i}, .out = {out_ref(kd, i)},\n"
                 f"  .in_w = {w}, .c = {c}, .out_w = {lay.out_shape[1]}, .kh = {kh}, .kw = {kw}, "
                 f".sh = {sh}, .sw = {sw}, .pad_l = {p['pad'][1]}, .zp_in = {int(p['zp_in'])}, "
                 f".stream = MM_MODEL_S{i}, .w16 = {int(kd.w16)}}};\n\n")
    elif lay.kind in ("avgpool", "maxpool"):
        h, w, c = lay.in_shape
        (kh, kw), (sh, sw) = p["filter"], p["stride"]
        o.append(f"static const mm_nn_pool_params mm_model_p{i} = {{\n"
                 f"  .in_w = {w}, .c = {c}, .out_w = {lay.out_shape[1]}, .kh = {kh}, .kw = {kw}, "
                 f".sh = {sh}, .sw = {sw}, .pad_l = {p['pad'][1]}, "
                 f".act_min = {int(p['act_min'])}, .act_max = {int(p['act_max'])}}};\n\n")
    elif lay.kind == "mean":
        h, w, c = lay.in_shape
        o.append(f"static const mm_nn_mean_params mm_model_p{i} = {{\n"
                 f"  .h = {h}, .w = {w}, .c = {c}, .zp_in_times_n = {int(p['zp_in']) * h * w}, "
                 f".mult = {int(p['mult'])}, .shift = {int(p['shift'])}, "
                 f".zp_out = {int(p['zp_out'])}}};\n\n")
    elif lay.kind == "softmax":
        o.append(f"static const mm_nn_softmax_params mm_model_p{i} = {{\n"
                 f"  .rows = {p['rows']}, .depth = {p['depth']}, .mult = {p['mult']}, "
                 f".left_shift = {p['left_shift']}, .diff_min = {p['diff_min']}}};\n\n")
    elif lay.kind == "add":
        n_add = (lay.out_shape[1] * lay.out_shape[2] if schedule.is_row_layer(lay)
                 else int(np.prod(lay.out_shape)))
        o.append(c_array("int32_t", f"mm_model_lut{i}a", kd.extra["lut1"], 8))
        o.append(c_array("int32_t", f"mm_model_lut{i}b", kd.extra["lut2"], 8))
        o.append(f"static const mm_nn_add_params mm_model_p{i} = {{\n"
                 f"  .lut1 = mm_model_lut{i}a, .lut2 = mm_model_lut{i}b, .mult = {int(p['mo'])}, "
                 f".shift = {int(p['so'])}, .zp_out = {int(p['zp_out'])}, "
                 f".act_min = {int(p['act_min'])}, .act_max = {int(p['act_max'])}, "
                 f".n = {n_add}u}};\n\n")
    return "".join(o)


def _scratch(sched: Schedule, i: int) -> str:
    return f"(void *)(mm_model_arena + {sched.scratch_offset(i)})"


def _need(sched: Schedule, tid: int, row: str, rows: int, lo: str | None = None) -> str:
    """Pull rows of a streamed tensor from `lo` (the first the reader still reads) up to
    `row` (clipped to its height)."""
    if sched.places[tid].kind != "ring":
        return ""
    return f"  mm_model_need{tid}({lo if lo is not None else row}, {row} < {rows} ? {row} : {rows - 1});\n"


def _prof(i: int, call: str, indent: str = "  ") -> str:
    return (f"{indent}{{\n{indent}  MM_NN_PROF_BEGIN();\n{indent}  {call};\n"
            f"{indent}  MM_NN_PROF_END({i});\n{indent}}}\n")


def layer_code(lay, kd: KernelData, sched: Schedule) -> str:
    i = lay.index
    p = lay.params
    out_pl = sched.place(lay.output)
    o: list[str] = []
    if schedule.is_row_layer(lay):
        kh, sh, ph = schedule.window(lay)
        cache = _cache(sched, lay.output)
        o.append(f"static void mm_model_row{i}(int oy) {{\n")
        o.append(f"  int8_t *dst = {_row_expr(sched, lay.output, 'oy')};\n")
        if cache is not None:
            t = lay.output
            o.append(f"  const int32_t a = mm_model_anchor{t}(oy);\n"
                     f"  const int stored = (int)(MM_MODEL_STORED{t} >> oy) & 1;\n"
                     f"  if (stored && mm_model_tag{t}[a % {cache.slots}] == a) {{\n"
                     f"    mm_model_reused++;\n"
                     f"    MM_NN_TAP({i}, dst, {out_pl.row_bytes}u); /* the row a window before made */\n"
                     f"    return;\n  }}\n")
        if lay.kind == "add":
            a, b = lay.inputs
            o.append(_need(sched, a, "oy", lay.in_shape[0]))
            if b != a:
                o.append(_need(sched, b, "oy", lay.in_shape[0]))
            call = (f"mm_nn_add(&mm_model_p{i}, {_row_expr(sched, a, 'oy')}, "
                    f"{_row_expr(sched, b, 'oy')}, dst)")
        else:
            src = lay.inputs[0]
            h_in = lay.in_shape[0]
            o.append(f"  const int iy0 = oy * {sh} - {ph};\n")
            o.append(_need(sched, src, f"iy0 + {kh - 1}", h_in, "iy0"))
            if lay.index in sched.pairs:
                # replace the one-row pull above: rows oy and oy + 1 in one call
                o.pop()
                o.append(f"  if (oy & 1) {{\n    MM_NN_TAP({i}, dst, {out_pl.row_bytes}u); "
                         "/* made with row oy - 1 */\n    return;\n  }\n"
                         f"  const int two = oy + 1 < {lay.out_shape[0]};\n")
                o.append(_need(sched, src, "oy + two", h_in, "oy"))
                o.append(f"  const int8_t *in = {_row_expr(sched, src, 'iy0')};\n")
                call = (f"mm_nn_conv_1x1_row(two ? &mm_model_p{i}x2 : &mm_model_p{i}, in, dst, "
                        f"{_scratch(sched, i)})")
            elif lay.kind == "conv" and kd.extra.get("pointwise"):
                o.append(f"  const int8_t *in = {_row_expr(sched, src, 'iy0')};\n")
                call = f"mm_nn_conv_1x1_row(&mm_model_p{i}, in, dst, {_scratch(sched, i)})"
            else:
                # padding rows: a row of zero points where the kernel reads one, else NULL
                pad = pad_name(int(p["zp_in"])) if kd.pad_row_bytes else "(const int8_t *)0"
                o.append(f"  const int8_t *rows[{kh}];\n")
                for k in range(kh):
                    o.append(f"  rows[{k}] = (unsigned)(iy0 + {k}) < {h_in}u ? "
                             f"{_row_expr(sched, src, f'iy0 + {k}')} : {pad};\n")
                if lay.kind == "conv":
                    fn = "mm_nn_conv_window_row" if kd.extra.get("window") else "mm_nn_conv_row"
                    call = f"{fn}(&mm_model_p{i}, rows, dst, {_scratch(sched, i)})"
                elif lay.kind == "dwconv":
                    call = f"mm_nn_dwconv_row(&mm_model_p{i}, rows, dst)"
                elif lay.kind == "avgpool":
                    call = f"mm_nn_avgpool_row(&mm_model_p{i}, rows, dst, {_scratch(sched, i)})"
                else:
                    call = f"mm_nn_maxpool_row(&mm_model_p{i}, rows, dst)"
        o.append(_prof(i, call))
        if cache is not None:
            o.append(f"  if (stored) mm_model_tag{lay.output}[a % {cache.slots}] = a;\n")
        o.append(f"  MM_NN_TAP({i}, dst, {out_pl.row_bytes}u);\n}}\n\n")
        if sched.places[lay.output].kind != "ring":
            o.append(f"static void mm_model_step{i}(void) {{\n  int oy;\n"
                     f"  for (oy = 0; oy < {out_pl.rows}; oy++) mm_model_row{i}(oy);\n}}\n\n")
        return "".join(o)
    dst = tensor_ptr(sched, lay.output)
    src = tensor_ptr(sched, lay.inputs[0])
    o.append(f"static void mm_model_step{i}(void) {{\n")
    if schedule.is_reducer(lay):
        h, w, c = lay.in_shape
        src_pl = sched.places[lay.inputs[0]]
        o.append(f"  int32_t *sums = (int32_t *)(mm_model_arena + {sched.sums[i].offset});\n")
        o.append(f"  memset(sums, 0, {4 * c});\n")
        if src_pl.kind == "ring":
            o.append(f"  int iy;\n  for (iy = 0; iy < {h}; iy++) {{\n")
            o.append("  " + _need(sched, lay.inputs[0], "iy", h))
            o.append(_prof(i, f"mm_nn_sum_pixels({_row_expr(sched, lay.inputs[0], 'iy')}, "
                              f"{w}, {c}, sums)", "    "))
            o.append("  }\n")
        else:
            o.append(_prof(i, f"mm_nn_sum_pixels({src}, {h * w}, {c}, sums)"))
        if lay.kind == "mean":
            call = f"mm_nn_mean_finish(&mm_model_p{i}, sums, {dst})"
        else:
            call = f"mm_nn_avgpool_finish(&mm_model_p{i}, sums, {h * w}, {dst})"
    elif lay.kind == "fc":
        call = f"mm_nn_fc(&mm_model_p{i}, {src}, {dst}, {p['rows']}, {_scratch(sched, i)})"
    elif lay.kind == "softmax":
        call = f"mm_nn_softmax(&mm_model_p{i}, {src}, {dst})"
    elif lay.kind == "add":   # not a row layer (rank below 3): one call
        call = f"mm_nn_add(&mm_model_p{i}, {src}, {tensor_ptr(sched, lay.inputs[1])}, {dst})"
    elif lay.kind == "reshape":
        call = None
    else:
        raise AssertionError(lay.kind)
    if call:
        o.append(_prof(i, call))
    size = int(np.prod(lay.out_shape))
    o.append(f"  MM_NN_TAP({i}, {dst}, {size}u);\n}}\n\n")
    return "".join(o)
