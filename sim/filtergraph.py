"""ffmpeg filter graphs that draw the scripted scenes.

One graph renders a scene at the main stream's size, then splits it: the main output as is, the
sub output scaled down. Both streams thus show the same pixels, and the ground truth of the sub
stream is the main one scaled.

Object positions are ffmpeg expressions of the frame number `n`, and `PassPath` evaluates the
very same expression in Python, rounding as ffmpeg's overlay does, so the ground truth matches
the pixels exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.formats import StreamFormat
from sim.scenes import LightsScene, MotionPass, MotionScene, ScriptedScene

# Object look: white with a black border and a black bar, visible on dark and light backgrounds.
OBJECT_FILL = "white"
OBJECT_INK = "black"


@dataclass(frozen=True)
class PassPath:
    """A motion pass in the pixels of a `width` x `height` frame at `fps`.

    The object's top-left corner is `x0 + dx * (n - n_enter) / (n_exit - n_enter)` (and so for y)
    on frames n_enter..n_exit; outside them the object is not drawn.
    """

    n_enter: int
    n_exit: int
    x0: float
    y0: float
    dx: float
    dy: float
    w: int
    h: int

    @classmethod
    def of(cls, motion_pass: MotionPass, width: int, height: int, fps: int) -> PassPath:
        w = _even(motion_pass.size[0] * width)
        h = _even(motion_pass.size[1] * height)
        n_enter = round(motion_pass.enter_s * fps)
        n_exit = max(round(motion_pass.exit_s * fps), n_enter + 1)
        x0 = motion_pass.start[0] * width - w / 2
        y0 = motion_pass.start[1] * height - h / 2
        x1 = motion_pass.end[0] * width - w / 2
        y1 = motion_pass.end[1] * height - h / 2
        return cls(n_enter, n_exit, x0, y0, x1 - x0, y1 - y0, w, h)

    def expr(self, axis: str, fps: int) -> str:
        start, delta = (self.x0, self.dx) if axis == "x" else (self.y0, self.dy)
        progress = f"({_frame_number(fps)}-{self.n_enter})/{self.n_exit - self.n_enter}"
        return f"{start!r}+{delta!r}*{progress}"

    def enable(self, fps: int) -> str:
        return f"between({_frame_number(fps)},{self.n_enter},{self.n_exit})"

    def top_left(self, n: int) -> tuple[int, int] | None:
        """Where ffmpeg's overlay puts the object on frame n, or None if it is not drawn."""
        if not self.n_enter <= n <= self.n_exit:
            return None
        span = self.n_exit - self.n_enter
        x = self.x0 + self.dx * (n - self.n_enter) / span
        y = self.y0 + self.dy * (n - self.n_enter) / span
        # overlay truncates towards zero, then aligns to the 4:2:0 chroma grid (even numbers).
        return int(x) & ~1, int(y) & ~1


def _frame_number(fps: int) -> str:
    # The frame number from the timestamp. ffmpeg's own `n` is not used: in overlay it counts
    # frames already consumed (one ahead), which would put every box one frame late.
    return f"floor(t*{fps}+0.5)"


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def background(fmt: StreamFormat, seed: int) -> str:
    """A static textured picture: sky-and-ground gradients, a grid, two blocks, fine grain.

    Rendered once (first frame) and looped, so the texture is identical in every frame and only
    the temporal noise added later changes from frame to frame.
    """
    w, h = fmt.width, fmt.height

    def box(x: float, y: float, bw: float, bh: float, color: str) -> str:
        return (
            f"drawbox=x={int(x * w)}:y={int(y * h)}:w={int(bw * w)}:h={int(bh * h)}"
            f":c={color}:t=fill"
        )

    return ",".join(
        [
            f"gradients=s={w}x{h}:c0=0x30405a:c1=0x8a9a6a:c2=0x605040:c3=0xa0b0c0"
            f":nb_colors=4:seed={seed}:r={fmt.fps}",
            f"drawgrid=w={max(4, w // 16)}:h={max(4, h // 12)}:t=2:c=0x202020@0.5",
            box(0.08, 0.42, 0.17, 0.42, "0x404850"),
            box(0.70, 0.28, 0.20, 0.52, "0x705040"),
            f"noise=alls=12:allf=u:all_seed={seed}",
            "gblur=sigma=1.5",
            "trim=end_frame=1",
            "loop=loop=-1:size=1",
            f"settb=1/{fmt.fps}",
            "setpts=N",
            "format=yuv420p",
        ]
    )


def _object_source(path: PassPath, fps: int, label: str) -> str:
    border = max(2, min(path.w, path.h) // 12)
    bar = max(2, path.h // 8)
    return (
        f"color=c={OBJECT_FILL}:s={path.w}x{path.h}:r={fps},"
        f"drawbox=x=0:y=0:w=iw:h=ih:c={OBJECT_INK}:t={border},"
        f"drawbox=x=0:y=(ih-{bar})/2:w=iw:h={bar}:c={OBJECT_INK}:t=fill,"
        f"format=yuv420p[{label}]"
    )


def _brightness_expr(scene: LightsScene, fps: int) -> str:
    expr = repr(scene.initial_brightness)
    for step in scene.steps:
        expr = f"if(gte({_frame_number(fps)},{round(step.at_s * fps)}),{step.brightness!r},{expr})"
    return expr


def scene_graph(scene: ScriptedScene, main: StreamFormat, sub: StreamFormat) -> str:
    """A -filter_complex graph with two outputs, [main] and [sub], of exactly the scene's frames."""
    fps = main.fps
    chains = [f"{background(main, scene.seed)}[bg0]"]
    current = "bg0"
    if isinstance(scene, MotionScene):
        for index, motion_pass in enumerate(scene.passes):
            path = PassPath.of(motion_pass, main.width, main.height, fps)
            chains.append(_object_source(path, fps, f"obj{index}"))
            chains.append(
                f"[{current}][obj{index}]overlay=x='{path.expr('x', fps)}'"
                f":y='{path.expr('y', fps)}':eval=frame:enable='{path.enable(fps)}'[bg{index + 1}]"
            )
            current = f"bg{index + 1}"
    tail = [f"[{current}]"]
    if isinstance(scene, LightsScene):
        tail.append(f"eq=brightness='{_brightness_expr(scene, fps)}':eval=frame,")
    if scene.noise:
        tail.append(f"noise=alls={scene.noise}:allf=t:all_seed={scene.seed + 1},")
    frames = scene.duration_s * fps
    tail.append(f"trim=end_frame={frames},format=yuv420p,split=2[main][sub0]")
    chains.append("".join(tail))
    chains.append(f"[sub0]scale={sub.width}:{sub.height}:flags=area[sub]")
    return ";".join(chains)
