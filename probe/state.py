"""What one probe process has counted and noted so far, in one object: :data:`STATE`.

The probe's helpers count training steps, compile seconds and API spellings as a task runs, and the
runner (:mod:`probe.run`) reads the counts around each task and starts each run of a task from empty
notes. Kept in one object, instead of one-element lists scattered over the modules that write them, every
piece of process state is named in one place, read and written by attribute, and a test can swap one
attribute for its own (``monkeypatch.setattr(STATE, "step_losses", [])``).

The pace of the running task is an object of its own with its own methods: :data:`probe.pace.PACE`. The
interventions in force are :mod:`probe.overrides`'s, behind its own functions.

Python 3.6 syntax: the probe runs in era-authentic interpreters.
"""


class ProcessState(object):
    """The counters and notes of this probe process (see the module docstring).

    - ``doors``: every documented way to reach Keras here, ``[(door, module)]``, the one tasks use first
      (:func:`probe.frameworks.load_keras` fills it).
    - ``compile_seconds``: seconds XLA spent compiling (or fetching from the compile cache) this process's
      programs, on JAX: the probe subtracts them from a task's time per step, which then does not depend on
      whether the persistent cache already held the programs.
    - ``compile_cache_on``: whether this process keeps JAX's compiled programs
      (:func:`probe.frameworks.keep_compiled_programs`).
    - ``watch_depth``: how deep in watched optimizer ``__init__`` calls (or in the probe's own optimizer
      construction) this process is: only the task's own call is noted, not a ``super().__init__(lr=...)``
      inside the library (:func:`probe.optimizers.watch_api_calls`).
    - ``api_calls``: the behaviour probes whose spelling the running task used (its facts record them as
      ``api_calls``).
    - ``constructed``: the public classes (``layers.Dense``) the running task constructed itself, not the
      library on its behalf (its facts record them as ``constructed``; the targeted sweep,
      :mod:`probe.sweep`, exercises them).
    - ``steps``: training steps taken in this process (``train_on_batch`` calls and ``fit`` batches): the
      probe divides a task's time by its steps, so speed compares per step across versions whose ``fit()``
      defaults differ.
    - ``step_losses``: the loss of each of the running task's first training steps (``fit()`` and
      ``train_on_batch`` alike), so the host can name the step where two environments' trajectories part.
    - ``warnings``: the library's warnings during the running task (Python warnings and WARNING log
      records), newest last: a task cut short quotes the last one.
    - ``records_enabled``, ``records_seconds``, ``records_taken``: whether this process takes per-layer
      records (:mod:`probe.records`), the seconds it spent taking them (the benchmark reports their share),
      and the ``(task, label)`` pairs already taken.
    - ``optimizer_problem_records``: the records of the optimizer canaries' shared problem, once taken
      (``None`` before).
    - ``trained_model``: the model the running task trained, offered for saving (:func:`probe.saving.keep`).
    - ``batch_orders``: the permutations of the samples the running task's ``fit`` calls drew (or were
      given by a replay), in order; ``watching_batch_order``: whether a ``fit`` is being watched now
      (:mod:`probe.batch_order`).
    """

    def __init__(self):
        self.doors = []
        self.compile_seconds = 0.0
        self.compile_cache_on = False
        self.watch_depth = 0
        self.api_calls = set()
        self.constructed = set()
        self.steps = 0
        self.step_losses = []
        self.warnings = []
        self.records_enabled = True
        self.records_seconds = 0.0
        self.records_taken = set()
        self.optimizer_problem_records = None
        self.trained_model = None
        self.batch_orders = []
        self.watching_batch_order = False

    def start_task_run(self):
        """One run of a task starts: no API spelling or construction noted, no step loss or batch order kept,
        no trained model offered."""
        self.api_calls.clear()
        self.constructed.clear()
        del self.step_losses[:]
        del self.batch_orders[:]
        self.trained_model = None


STATE = ProcessState()
