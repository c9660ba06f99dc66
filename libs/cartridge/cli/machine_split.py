"""How `cartridge run` divides the CPUs it may use between the trainer and the actors.

The criterion is strength per wall-clock hour. Under the train/data ratio limit the
trainer can only use as much training as the games allow, so what buys strength is the
most self-play that keeps the trainer fed, with no core idle and no two processes
fighting over one. The rule, for C CPUs (cartridge.threads.cpu_budget):

- The trainer gets T = [training] threads, or max(1, C // 4): one PyTorch thread trains
  the default Connect Four network several times faster than one actor core feeds it
  at the default ratio (bench run_throughput), so a quarter of the machine keeps it fed.
- C - T actors run one ONNX Runtime thread each at normal priority: separate processes
  need no synchronisation between threads, and each batches its own games.
- T more "backfill" actors run at idle priority (SCHED_IDLE): the kernel gives them a
  CPU only when nothing else wants it, i.e. while the trainer waits at the ratio gate
  or for a batch. So the trainer's cores never idle, and never slow the trainer down.
- Every child runs ONNX Runtime with spinning off: its cores are shared.

Threads at normal priority add up to C. [run] actors = N > 0 instead starts N actors
at normal priority sharing the C - T CPUs left to them, and no backfill. The arena
(cli/run.py) runs one thread niced 10, ahead of the backfill actors.

Measured on 2 cores (bench run_throughput, Connect Four defaults then: fp32 actors, PUCT
200; 3 minutes after the first model; self-play positions/s is what bounded strength):
- this split: 46.9 positions/s, the trainer waiting at the ratio gate 46% of the time;
  CPUs used: trainer 0.48, actor 0.95, backfill 0.10, arena 0.43;
- without the arena: 60.6 positions/s (backfill 0.40). At idle priority the arena took
  0.21 and self-play made 50.4, but where training and self-play saturate the machine
  (tic-tac-toe) it got no CPU at all: ratings are worth their share;
- [run] actors = 2 (no backfill, both actors compete with the trainer): 54.9
  positions/s, but the arena gets 0.09 and ratings crawl: the option for runs that
  want the most games and few ratings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActorPlan:
    threads: int  # ONNX Runtime intra-op threads
    backfill: bool  # idle priority: runs only on otherwise idle CPUs


@dataclass(frozen=True)
class MachineSplit:
    cpus: int
    trainer_threads: int
    actors: tuple[ActorPlan, ...]

    def describe(self) -> str:
        normal = [a for a in self.actors if not a.backfill]
        backfill = len(self.actors) - len(normal)
        threads = "+".join(str(a.threads) for a in normal)
        text = (f"{self.cpus} CPUs: trainer {self.trainer_threads} threads, "
                f"{len(normal)} actors ({threads} threads)")
        if backfill:
            text += f", {backfill} backfill actors at idle priority (the trainer's CPUs " \
                    f"when it waits)"
        return text


def split_machine(cpus: int, *, actors: int, training_threads: int,
                  inference_threads: int) -> MachineSplit:
    """The split for `cpus` CPUs; `actors`, `training_threads` and `inference_threads`
    are the [run] actors, [training] threads and [inference] intra_op_threads keys
    (0 = choose)."""
    if cpus < 1:
        raise ValueError(f"cpus must be >= 1, got {cpus}")
    trainer = training_threads or max(1, cpus // 4)
    left = max(1, cpus - trainer)
    if actors > 0:
        threads = inference_threads or max(1, left // actors)
        plans = [ActorPlan(threads, backfill=False)] * actors
    else:
        threads = inference_threads or 1
        normal = max(1, left // threads)
        plans = [ActorPlan(threads, backfill=False)] * normal + \
                [ActorPlan(threads, backfill=True)] * max(1, trainer // threads)
    return MachineSplit(cpus, trainer, tuple(plans))
