"""The sweep's tables: the kinds and their namespaces, the fixed core, the arguments and variants
entries get, and the fixed NumPy data each kind is exercised on. Everything an entry is called with is
here, so that a reader sees the whole design in one place and no test is hand-written per class."""





MODES = ("targeted", "full", "off")
DEFAULT_MODE = "targeted"
KINDS = ("initializers", "activations", "losses", "metrics", "optimizers", "schedules", "layers", "callbacks", "ops")
# The namespace each kind sweeps, and the name of the public base class its entries derive from (None: functions).
NAMESPACES = {
    "initializers": ("initializers", "Initializer"),
    "activations": ("activations", None),
    "losses": ("losses", "Loss"),
    "metrics": ("metrics", "Metric"),
    "optimizers": ("optimizers", "Optimizer"),
    "schedules": ("optimizers.schedules", "LearningRateSchedule"),
    "layers": ("layers", "Layer"),
    "callbacks": ("callbacks", "Callback"),
    "ops": ("ops", None),
}
# The fixed core the targeted sweep always covers, by public name: entries most users call, of those cheap to
# run (MultiHeadAttention and AUC cost more than a second each across the default matrix: they are swept where a
# task, probe or script constructs them, and at night).
CORE = {
    "initializers": ("GlorotUniform", "HeNormal", "Orthogonal", "RandomNormal", "Zeros"),
    "activations": ("elu", "gelu", "hard_sigmoid", "relu", "selu", "sigmoid", "silu", "softmax", "swish", "tanh"),
    "losses": ("BinaryCrossentropy", "CategoricalCrossentropy", "MeanSquaredError", "SparseCategoricalCrossentropy"),
    "metrics": ("BinaryAccuracy", "CategoricalAccuracy", "Mean", "Precision"),
    "optimizers": ("Adam", "AdamW", "SGD"),
    "schedules": ("CosineDecay", "ExponentialDecay"),
    "layers": ("BatchNormalization", "Conv2D", "Dense", "Dropout", "Embedding", "LSTM", "LayerNormalization",
               "Normalization", "RandomFlip"),
    "callbacks": ("EarlyStopping", "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau"),
    "ops": ("add", "cumsum", "exp", "logsumexp", "mean", "softmax", "sort", "tanh", "var"),
}

SEED = 1  # given to every entry that takes a seed
SPREAD_SEED = 2  # its second run, which measures what the seed alone moves (seed_spread)
WEIGHT_SEED = 1  # the NumPy weights of a layer (set_weights)
CHECKSUM_SEED = 5  # the fixed weights of every checksum and of the scalar whose gradient is taken
ENTRY_CAP_S = 10.0  # one entry's time cap: past it the entry is skipped
SNIPPET_LINES = 15

# Values for parameters without a default, by parameter name, whatever the class.
REQUIRED = {
    # layers
    "units": 3, "filters": 2, "kernel_size": 3, "pool_size": 2, "output_size": 2, "rate": 0.5, "stddev": 0.5,
    "input_dim": 10, "output_dim": 3, "n": 2, "dims": (2, 1), "target_shape": (3, 2), "axes": 1, "scale": 0.5,
    "num_heads": 2, "key_dim": 2, "head_dim": 2, "num_query_heads": 2, "num_key_value_heads": 1,
    "height": 4, "width": 4, "factor": 0.2, "height_factor": 0.2, "width_factor": 0.2, "num_bins": 4,
    "num_tokens": 10, "equation": "ab,bc->ac", "output_shape": 3, "activation": "relu",
    "nb_filter": 2, "filter_length": 3, "nb_row": 3, "nb_col": 3,  # Keras 1's convolutions
    # metrics
    "num_classes": 3, "target_class_ids": (0, 1), "recall": 0.5, "precision": 0.5, "specificity": 0.5,
    "sensitivity": 0.5,
    # schedules
    "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "first_decay_steps": 10,
    "boundaries": (10, 20), "values": (0.1, 0.05, 0.01),
    # activations
    "threshold": 0.5, "default_value": 0.0,
    # callbacks: files go to the entry's scratch folder, the working folder while a callback runs
    "filepath": "checkpoint.weights.h5", "filename": "log.csv", "backup_dir": "backup",
}
# Parameters without a default whose value is another public object: (namespace, name, arguments).
REQUIRED_OBJECTS = {
    "layer": ("layers", "Dense", {"units": 2}),
    "cell": ("layers", "SimpleRNNCell", {"units": 2}),
    "inner_optimizer": ("optimizers", "SGD", {}),
}
# Parameters without a default whose value is a function: its source, as the call and the snippet write it.
REQUIRED_CODE = {
    "schedule": "lambda epoch,lr:lr*0.5",
}
# Layers whose defaults cannot run on the small inputs of LAYER_INPUTS, or that need a particular object.
LAYER_ARGUMENTS = {
    "Bidirectional": {"layer": ("layers", "LSTM", {"units": 2})},
    "CategoryEncoding": {"num_tokens": 10},
    "Discretization": {"num_bins": 4},
    "GroupNormalization": {"groups": 3},
    "MelSpectrogram": {"fft_length": 16, "num_mel_bins": 4, "sequence_length": 16, "sequence_stride": 8},
    "RandomPosterization": {"factor": 4},
    "STFTSpectrogram": {"fft_length": 16, "frame_length": 16, "frame_step": 8},
}
# Layers that also run with these arguments, by class: a kernel of more than two axes, whose fans an
# initializer computes from the layer's equation (keras-team/keras#22789).
LAYER_VARIANTS = {
    "EinsumDense": ({"equation": "ab,bcd->acd", "output_shape": (2, 16)},),
}
# Each optimizer runs with its defaults and with each of these its signature accepts (all keys of one).
OPTIMIZER_VARIANTS = (
    {"weight_decay": 0.1},
    {"clipnorm": 0.1},
    {"clipvalue": 0.01},
    {"global_clipnorm": 0.1},
    {"use_ema": True},
    {"gradient_accumulation_steps": 2},
    {"amsgrad": True},
    {"momentum": 0.9},
    {"momentum": 0.9, "nesterov": True},
    {"centered": True},
)
SCHEDULE_VARIANTS = ({"staircase": True}, {"cycle": True})
# Each loss also runs with each of these its signature accepts: its y_pred then read as logits.
LOSS_VARIANTS = ({"from_logits": True},)
# Each callback runs with its defaults and with each of these its signature accepts (all keys of one): the
# decisions users rely on (when to stop, which weights to keep, when to cut the learning rate).
CALLBACK_VARIANTS = (
    {"patience": 2, "restore_best_weights": True},
    {"patience": 20, "restore_best_weights": True},  # never stops within CALLBACK_LOGS: are the best weights kept?
    {"start_from_epoch": 3},
    {"baseline": 0.75, "patience": 3},
    {"min_delta": 0.06},
    {"patience": 1, "cooldown": 2},
    {"save_best_only": True},
)
CALLBACK_ARGUMENTS = {"ModelCheckpoint": {"save_weights_only": True}}  # a weights file: every version writes one
# Classes not exercised, with why (their entry is skipped with this reason).
EXCLUDED_CLASSES = {
    "RemoteMonitor": "posts each epoch's logs to a server: nothing here to compare",
    "TensorBoard": "writes TensorBoard event files: nothing here to compare",
}

# -- data -------------------------------------------------------------------------------------------------

INITIALIZER_SHAPES = ((7,), (5, 6), (3, 4, 5), (2, 3, 4, 5))
POINTS = (-1000.0, -20.0, -3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0, 20.0, 1000.0)  # saturated at both ends
POINTS_SHAPE = (2, 6)  # two rows: softmax-like functions normalise each, glu halves them
OPTIMIZER_STEPS = 5
OPTIMIZER_START = ((0.5, -0.3), (0.2, 0.8), (-0.6, 0.1))  # the variable, shape (3, 2)
OPTIMIZER_SCALES = ((1.0, 2.0), (0.5, 4.0), (3.0, 0.25))  # gradient a * (w - c): a quadratic bowl
OPTIMIZER_CENTRE = ((0.1, 0.2), (-0.3, 0.4), (0.0, -0.5))
SCHEDULE_STEPS = tuple(range(0, 55, 5))
CALLBACK_LEARNING_RATE = 0.1  # the marked model's SGD
# The (loss, val_loss) a callback sees at the end of each epoch (accuracy and val_accuracy are 1 - loss / 2):
# val_loss improves, stalls, improves by less than 0.06, then worsens, so every stopping and reducing rule
# decides. The model's weights mark the epoch (kernel = epoch + 1).
CALLBACK_LOSSES = ((1.0, 1.0), (0.9, 0.8), (0.8, 0.9), (0.75, 0.85), (0.7, 0.78), (0.65, 0.74), (0.6, 0.76),
                   (0.58, 0.8), (0.55, 0.9), (0.5, 1.0))

# Label layouts: name -> (y_true, y_pred) as Python literals (the snippets print them as they are).
PROBABILITIES = [[0.0, 0.3, 0.7], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [1.0, 0.0, 0.0]]  # exact 0 and 1: clipping shows
LAYOUTS = {
    "rank1": ([0.0, 1.0, 1.0, 0.0], [0.1, 0.8, 0.4, 0.0]),
    "rank2": ([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], PROBABILITIES),
    "sparse_rank1": ([2, 1, 0, 0], PROBABILITIES),
    "sparse_rank2": ([[2], [1], [0], [0]], PROBABILITIES),
    "ids": ([2, 1, 0, 0], [2, 0, 0, 1]),
    "values": ([1.0, 2.0, 3.0, 4.0], None),
    "ctc": ([[1, 2, 3], [2, 2, 0]], "np.random.RandomState(7).uniform(-1, 1, size=(2, 6, 5))"),
    "embedding": ([0, 1, 0, 1], PROBABILITIES),
}
SAMPLE_WEIGHT = [1.0, 0.5, 2.0, 0.0]
# A loss also trains, through fit() with class_weight, a one-layer model on its first layout where that layout
# is one of FIT_LAYOUTS (layout -> (units, activation)): FIT_EPOCHS epochs of one batch, SGD, no shuffling.
FIT_LAYOUTS = {"rank1": (1, "sigmoid"), "rank2": (3, "softmax"), "sparse_rank1": (3, "softmax")}
FIT_INPUT = 'np.random.RandomState(6).uniform(-1, 1, size=(4, 3)).astype("float32")'
CLASS_WEIGHT = {0: 1.0, 1: 2.0, 2: 0.5}
FIT_EPOCHS = 2
FIT_LEARNING_RATE = 0.1
# The layouts of a loss or metric class: the first rule with a word its name contains, else DEFAULT_LAYOUTS.
LAYOUT_RULES = (
    (("CTC",), ("ctc",)),
    (("Circle",), ("embedding",)),
    (("Sparse", "GeneralizedCrossEntropy"), ("sparse_rank1", "sparse_rank2")),
    (("OneHot",), ("rank2",)),
    (("BinaryIoU",), ("rank1", "rank2")),
    (("IoU",), ("ids",)),
    (("Categorical", "TopK", "KLDivergence", "F1Score", "FBetaScore"), ("rank2",)),
)
EXACT_LAYOUTS = {"Mean": ("values",), "Sum": ("values",)}
DEFAULT_LAYOUTS = ("rank1", "rank2")


def _uniform(seed, shape, low=-1, high=1):
    return 'np.random.RandomState(%d).uniform(%g, %g, size=%r).astype("float32")' % (seed, low, high, tuple(shape))


# Layer inputs by family: Python expressions of NumPy (the snippets repeat them as they are).
LAYER_INPUTS = {
    "flat": [_uniform(3, (2, 6))],
    "sequence": [_uniform(3, (2, 5, 3))],
    "1d": [_uniform(3, (2, 8, 3))],
    "2d": [_uniform(3, (2, 6, 6, 3))],
    "3d": [_uniform(3, (2, 4, 4, 4, 2))],
    "convlstm1d": [_uniform(3, (2, 3, 6, 2))],
    "convlstm2d": [_uniform(3, (2, 3, 5, 5, 2))],
    "convlstm3d": [_uniform(3, (2, 2, 4, 4, 4, 1))],
    "image": [_uniform(3, (2, 8, 8, 3), 0, 1)],
    "audio": [_uniform(3, (2, 64))],
    "audio_channels": [_uniform(3, (2, 64, 1))],
    "pair": [_uniform(3, (2, 6)), _uniform(4, (2, 6))],
    "attention": [_uniform(3, (2, 4, 3)), _uniform(4, (2, 5, 3))],
    "tokens": ["np.random.RandomState(3).randint(0, 10, size=(2, 5))"],
    "token_pair": ["np.random.RandomState(3).randint(0, 10, size=(2, 1))", "np.random.RandomState(4).randint(0, 10, size=(2, 1))"],
    "strings": ['np.array([["the", "cat", "sat"], ["a", "dog", "ran"]])'],
}
# What a layer that adapts learns from, by family: more rows than it is called on, so that summaries that
# only start to sample past 100 values (Discretization's quantiles) sample.
ADAPT_INPUTS = {
    "flat": _uniform(8, (50, 6)),
    "sequence": _uniform(8, (20, 5, 3)),
    "image": _uniform(8, (10, 8, 8, 3), 0, 1),
    "tokens": "np.random.RandomState(8).randint(0, 10, size=(20, 5))",
}
# Public ops (Keras 3's keras.ops): the array each leading parameter without a default gets, by its name (two
# (2, 6) float32 matrices, the second for a second operand); an op whose first parameter no entry names, or
# that refuses these arrays, is skipped with its reason.
OPS_FIRST = _uniform(11, (2, 6))
OPS_SECOND = _uniform(12, (2, 6))
OPS_ARRAYS = {"x": OPS_FIRST, "x1": OPS_FIRST, "a": OPS_FIRST, "inputs": OPS_FIRST, "tensor": OPS_FIRST, "logits": OPS_FIRST,
              "x2": OPS_SECOND, "y": OPS_SECOND, "b": OPS_SECOND}
# A layer's family: the first rule with a word its class name contains (EXACT_FAMILIES first), else "flat".
EXACT_FAMILIES = {
    "Add": "pair", "Subtract": "pair", "Multiply": "pair", "Average": "pair", "Maximum": "pair", "Minimum": "pair",
    "Concatenate": "pair", "Dot": "pair", "Attention": "attention", "AdditiveAttention": "attention",
    "MultiHeadAttention": "attention", "GroupQueryAttention": "attention",
}
LAYER_FAMILIES = (
    (("ConvLSTM1D",), "convlstm1d"),
    (("ConvLSTM2D",), "convlstm2d"),
    (("ConvLSTM3D",), "convlstm3d"),
    (("HashedCrossing",), "token_pair"),
    (("MelSpectrogram",), "audio"),
    (("STFTSpectrogram",), "audio_channels"),
    (("Embedding", "CategoryEncoding", "IntegerLookup", "Hashing"), "tokens"),
    (("StringLookup", "TextVectorization"), "strings"),
    (("3D",), "3d"),
    (("2D",), "2d"),
    (("1D",), "1d"),
    (("Random", "Resizing", "CenterCrop", "AutoContrast", "Equalization", "Solarization", "AugMix", "RandAugment",
      "CutMix", "MixUp"), "image"),
    (("RNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed", "Masking", "Permute", "Flatten"), "sequence"),
)
# Layers called with a list of their inputs; attention layers that take them as arguments (query, value).
LIST_INPUT = ("pair", "token_pair")
ARGUMENT_INPUTS = ("MultiHeadAttention", "GroupQueryAttention")
# Statistics recorded of every array; initializers add min and max.
STATISTICS = ("mean", "std", "checksum")
INITIALIZER_STATISTICS = ("mean", "std", "min", "max", "checksum")
# Packages whose own constructions are not a task's calls (a library building its parts).
LIBRARY_PACKAGES = ("keras", "tf_keras", "tensorflow", "jax", "jaxlib", "flax", "torch", "theano", "optree", "numpy")
