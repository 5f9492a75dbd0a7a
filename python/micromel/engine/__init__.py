"""micromel's int8 inference engine: from a .tflite to plain C.

tflite.py    read the flatbuffer, refuse what is not supported
plan.py      layers with TFLite Micro's integer parameters; the numpy twin
kernels.py   weights and requantization records as the C kernels want them
schedule.py  row streaming and the static arena plan
cgen.py      the generated headers (cgen_layer.py: one layer's arrays and calls)
compiler.py  a model folder compiled: graph, plan, weights, arena (codegen.export)
stream.py    streaming inference: rows shared by sliding windows
cycles.py    Cortex-M4 cycle estimates from the emulator's executed instructions
peers.py     TFLite Micro's measured numbers for comparison
runner.py    run a model on the host build, a device, or TFLite Micro, layer by layer
bench.py     `micromel bench model`
cli.py       the `export` and `bench model` commands
zoo.py       small converted models for tests and benchmarks

docs/engine.md tells the whole story.
"""
