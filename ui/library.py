"""The browser's Library tab: add papers (uploads ingested in the background, one file after another), browse
and filter what is indexed, remove a source file, and see the corpus's topics at a glance.

`LibraryService` holds the state shared by every session (the upload queue, the topic map's cache) and is
tested without gradio; `build_library_tab` only wires it."""

from __future__ import annotations

import html
import logging
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import gradio as gr
import pandas as pd

from rag import library
from rag.corpus import SUFFIXES, CorpusReader
from rag.errors import UserError
from rag.ingest import IngestReport, ingest
from rag.pipeline import Pipeline

log = logging.getLogger("ui.library")

MAX_UPLOAD_MB = 50  # per file; gradio refuses larger uploads before they reach the server
# Papers embedded per progress step: 8 (~0.6 s) for a day's page (one batch of 78 showed no progress), about
# PROGRESS_STEPS steps for a large file (each step is a few Chroma calls).
UPLOAD_BATCH = 8
PROGRESS_STEPS = 50
SORTS = {"Title": ("title", True), "Newest first": ("date", False), "Oldest first": ("date", True),
         "Source": ("source", True), "Most passages": ("passages", False)}


def safe_name(name: str) -> str:
    """A file name with no path and no character a shell or a URL would trip on: uploads are stored under
    the data folder by this name only, never by a path the client sent."""
    stem, suffix = Path(Path(name).name).stem, Path(name).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:80] or "upload"
    return stem + suffix


@dataclass
class Job:
    """One uploaded file: waiting, ingesting (papers done of total), then done with a report or failed."""
    name: str
    path: Path
    state: str = "waiting"  # waiting | ingesting | done | failed
    total: int = 0
    done: int = 0
    report: IngestReport | None = None
    error: str = ""


class LibraryService:
    def __init__(self, pipeline: Pipeline, can_change: bool = True, why_not: str = ""):
        self.pipeline = pipeline
        self.can_change = can_change  # adding and removing papers; reading is always open
        self.why_not = why_not
        self.uploads = pipeline.settings.data_dir / "uploads"
        self.jobs: list[Job] = []
        self.lock = threading.Lock()
        self.worker: threading.Thread | None = None
        self.removing = False  # a source is being removed: no ingest starts meanwhile
        self.version = 0  # bumped whenever the library changes: the topic map is recomputed then
        self._topics: tuple[int, library.TopicMap] | None = None

    # -- adding ------------------------------------------------------------------------------------

    def add(self, files: list[str]) -> str:
        """Queue uploaded files (paths of gradio's temporary copies); returns a one-line message."""
        self.check_allowed()
        if not files:
            raise UserError("choose one or more files first (.txt or .md pages, .jsonl, .csv)")
        queued = []
        for upload in map(Path, files):
            name = safe_name(upload.name)
            if Path(name).suffix not in SUFFIXES:
                raise UserError(f"{upload.name}: unsupported file type (use {', '.join(sorted(SUFFIXES))})")
            if upload.stat().st_size > MAX_UPLOAD_MB << 20:
                raise UserError(f"{upload.name} is larger than the {MAX_UPLOAD_MB} MB limit per file")
            if any(name == other for _, other in queued) or any(
                    j.name == name and j.state in ("waiting", "ingesting") for j in self.jobs):
                raise UserError(f"{name} is already being added; add it again once it is done")
            queued.append((upload, name))
        with self.lock:
            if self.removing:
                raise UserError("a source file is being removed; add the files again in a moment")
            try:
                self.uploads.mkdir(parents=True, exist_ok=True)
                for upload, name in queued:
                    stored = self.uploads / name
                    shutil.copyfile(upload, stored)
                    self.jobs.append(Job(name, stored))
            except OSError as e:
                raise UserError(f"cannot store {upload.name} on the server ({e.strerror})") from None
            finally:  # the files stored before a failure are still ingested
                if self.worker is None and self.busy():
                    self.worker = threading.Thread(target=self._work, name="library-ingest", daemon=True)
                    self.worker.start()
        return f"Adding {len(queued)} file{'s' * (len(queued) != 1)} in the background; the chat keeps working."

    def busy(self) -> bool:
        return any(job.state in ("waiting", "ingesting") for job in self.jobs)

    def wait(self, timeout: float = 600) -> None:
        """Until the queue is empty (tests, and a clean shutdown)."""
        worker = self.worker
        if worker:
            worker.join(timeout)

    def _work(self) -> None:
        """One file after another, until none waits (the check and the exit under the lock `add` takes)."""
        while True:
            with self.lock:
                job = next((j for j in self.jobs if j.state == "waiting"), None)
                if job is None:
                    self.worker = None
                    return
            self._ingest(job)

    def _ingest(self, job: Job) -> None:
        settings, pipeline = self.pipeline.settings, self.pipeline
        try:
            job.total = sum(1 for _ in CorpusReader([job.path]))  # its papers, for the progress bar
            job.state = "ingesting"
            batch = max(UPLOAD_BATCH, job.total // PROGRESS_STEPS)
            report = ingest([job.path], settings.model_copy(update={"batch_size": batch}), pipeline.index,
                            pipeline.embedder, progress=False, paper_embedder=pipeline.paper_embedder,
                            on_batch=lambda so_far: setattr(job, "done", so_far.papers))
            self.version += 1  # before the job shows as done: a poll then sees the new library
            job.report, job.state = report, "done"
        except UserError as e:  # a bad file: nothing of it was written
            self.version += 1
            job.state, job.error = "failed", str(e).replace(str(job.path), job.name)
        except Exception as e:  # the details (and the server's paths) go to the server log only
            log.exception("ingesting %s failed", job.path)
            self.version += 1
            job.state, job.error = "failed", f"{job.name}: the ingest failed ({type(e).__name__})"

    # -- removing ----------------------------------------------------------------------------------

    def remove(self, source: str) -> str:
        self.check_allowed()
        with self.lock:
            if self.busy() or self.removing:
                raise UserError("wait until the files being added are done, then remove")
            self.removing = True
        try:
            removed = library.remove_source(self.pipeline.index, source)
        finally:
            self.version += 1
            self.removing = False
        return f"Removed the {removed} papers of {source}."

    def check_allowed(self) -> None:
        if not self.can_change:
            raise UserError(self.why_not)

    # -- reading -----------------------------------------------------------------------------------

    def papers(self) -> list[library.LibraryPaper]:
        """One read of the index's metadata, for the views below to share."""
        return library.papers(self.pipeline.index)

    def table(self, search: str = "", sort: str = "Title", papers: list | None = None) -> pd.DataFrame:
        """The papers whose title contains `search`, sorted by one of SORTS."""
        column, ascending = SORTS.get(sort, SORTS["Title"])
        rows = [p for p in (self.papers() if papers is None else papers) if search.strip().casefold() in p.title.casefold()]
        value = (lambda p: getattr(p, column).casefold()) if column != "passages" else (lambda p: p.passages)
        rows.sort(key=value, reverse=not ascending)  # stable: ties stay by title
        return pd.DataFrame([(p.title, p.date, p.source, p.passages) for p in rows],
                            columns=["Title", "Date", "Source", "Passages"])

    def summary(self, papers: list | None = None) -> str:
        counts = library.sources(self.papers() if papers is None else papers)
        lines = [f"**{sum(counts.values())} papers** from {len(counts)} source file{'s' * (len(counts) != 1)}:"]
        lines += [f"- {html.escape(name or '(source not recorded)')}: {count}" for name, count in counts.items()]
        return "\n".join(lines)

    def source_names(self, papers: list | None = None) -> list[str]:
        return [name for name in library.sources(self.papers() if papers is None else papers) if name]

    def topics(self) -> library.TopicMap:
        """The topic map, recomputed only when the library changed."""
        version = self.version
        if self._topics is None or self._topics[0] != version:
            self._topics = (version, library.topic_map(self.pipeline.index))
        return self._topics[1]

    def jobs_html(self) -> str:
        """Each upload: a progress bar while it is ingested, then its report."""
        if not self.jobs:
            return ""
        parts = []
        for job in reversed(self.jobs[-10:]):
            name = html.escape(job.name)
            if job.state == "failed":
                parts.append(f"<p>✗ <b>{name}</b>: {html.escape(job.error)}</p>")
            elif job.state == "done":
                r = job.report
                skipped = "".join(f"<li>{html.escape(str(p).replace(str(job.path), job.name))}</li>"
                                  for p in r.problems[:20])
                more = f"<li>… and {len(r.problems) - 20} more</li>" if len(r.problems) > 20 else ""
                parts.append(f"<p>✓ <b>{name}</b>: {r.papers_added} papers added, {r.papers_replaced} replaced, "
                             f"{r.papers_unchanged} unchanged; {len(r.problems)} records skipped</p>"
                             + (f"<ul>{skipped}{more}</ul>" if skipped else ""))
            else:
                parts.append(f"<p>{'⏳' if job.state == 'waiting' else '⚙'} <b>{name}</b>: {job.state} "
                             f"<progress value='{job.done}' max='{max(job.total, 1)}'></progress> "
                             f"{job.done} / {job.total or '?'} papers</p>")
        return "\n".join(parts)


def topic_frames(topics: library.TopicMap) -> tuple[pd.DataFrame, pd.DataFrame, list[list[str]]]:
    """The map's points, the papers per topic, and the topic labels as clickable samples. The plots name
    topics by number ("1" is the largest), with the label on hover: the browser's plots keep the categories
    they first drew, so names that change with the library would leave points and bars out."""
    labels = [t.label for t in topics.topics]
    # In topic order: the plots colour categories in the order they first meet them, and the map's colours must
    # be the bars' (the bars are its legend).
    points = pd.DataFrame(sorted((str(n + 1), x, y, labels[n], title) for x, y, n, title in topics.points),
                          columns=["topic", "x", "y", "label", "title"])
    sizes = pd.DataFrame([(str(n + 1), t.label, len(t.papers)) for n, t in enumerate(topics.topics)],
                         columns=["topic", "label", "papers"])
    return points, sizes, [[label] for label in labels]


def topic_question(label: str) -> str:
    """'speech, asr, audio' -> 'Which papers are about speech, asr or audio?'"""
    first, _, last = label.rpartition(", ")
    return f"Which papers are about {first + ' or ' if first else ''}{last}?"


class LibraryTab(NamedTuple):
    topics: gr.Dataset  # clicking one asks about it in the chat
    refresh: Callable[[], tuple]  # fresh values for `outputs`, e.g. when a page loads
    outputs: list


def build_library_tab(service: LibraryService, source_filter: gr.Dropdown) -> LibraryTab:
    """The Library tab's components and events. `source_filter` is the chat's source filter, whose choices
    follow the library."""
    gr.Markdown("Add the papers of a day's page (`.txt`/`.md`), or JSONL/CSV files with `title` and `abstract` "
                "(and optionally `date`). New papers are answerable as soon as their file is done.")
    if not service.can_change:
        gr.Markdown(f"🔒 Adding and removing papers is off: {service.why_not}", elem_id="library-locked")
    summary = gr.Markdown(elem_id="library-summary")
    with gr.Row(equal_height=True):
        files = gr.File(file_count="multiple", file_types=sorted(SUFFIXES), label=f"Files to add (up to "
                        f"{MAX_UPLOAD_MB} MB each)", interactive=service.can_change, elem_id="upload", scale=3,
                        height=130)
        add = gr.Button("Add to library", variant="primary", interactive=service.can_change, elem_id="add", scale=1)
    jobs = gr.HTML(elem_id="jobs")
    timer = gr.Timer(1.0, active=False)
    with gr.Row():
        search = gr.Textbox(label="Search titles", elem_id="library-search", scale=3)
        sort = gr.Dropdown(list(SORTS), value="Title", label="Sort by", scale=1)
    table = gr.Dataframe(interactive=False, max_height=360, wrap=True, elem_id="library-table",
                         column_widths=["60%", "12%", "20%", "8%"])
    with gr.Row(equal_height=True):
        source = gr.Dropdown([], label="Remove the papers of one source file", interactive=service.can_change,
                             elem_id="remove-source", scale=3)
        remove = gr.Button("Remove…", variant="stop", interactive=service.can_change, elem_id="remove", scale=1)
        confirm = gr.Button("Confirm", variant="stop", visible=False, elem_id="confirm-remove", scale=1)
        cancel = gr.Button("Cancel", visible=False, scale=1)
    gr.Markdown("### The corpus at a glance\nTopics are clusters of the papers' embeddings, named by their most "
                "distinctive words; no LLM is involved. They are listed largest first (topic 1 in the plots). Click "
                "a topic to ask about it in the chat.")
    topic_list = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[], label="Topics",
                            elem_id="topics", samples_per_page=20)
    with gr.Row():
        topic_map = gr.ScatterPlot(x="x", y="y", color="topic", tooltip=["title", "label"], x_title=" ",
                                   y_title=" ", label="Papers by topic (2-D projection; hover for the title)",
                                   height=480, scale=3)
        # Coloured by topic, the bars are the map's legend too (the map's own is cut off below its plot).
        topic_sizes = gr.BarPlot(x="topic", y="papers", color="topic", tooltip=["label", "papers"],
                                 label="Papers per topic (hover for its words; its colours are the map's)",
                                 height=480, scale=2)

    def refresh(search_text: str = "", sort_by: str = "Title"):
        points, sizes, samples = topic_frames(service.topics())
        papers = service.papers()  # the three views below read the index's metadata once
        names = service.source_names(papers)
        return (service.summary(papers), service.table(search_text, sort_by, papers),
                gr.update(choices=names, value=None),
                gr.update(choices=names), points, gr.BarPlot(sizes, y_lim=[0, max(sizes["papers"], default=0) + 1]),
                gr.Dataset(samples=samples), service.jobs_html())

    refreshed = [summary, table, source, source_filter, topic_map, topic_sizes, topic_list, jobs]
    quiet = dict(concurrency_limit=None, show_progress="hidden", api_visibility="private")

    def start_adding(uploaded):
        try:
            gr.Info(service.add(uploaded or []))
        except UserError as e:
            gr.Warning(str(e))
            return gr.skip(), gr.skip(), gr.skip()
        return None, service.jobs_html(), gr.Timer(active=True)

    add.click(start_adding, inputs=[files], outputs=[files, jobs, timer], **quiet)

    def poll(search_text, sort_by):
        if service.busy():
            return (*[gr.skip()] * (len(refreshed) - 1), service.jobs_html(), gr.Timer(active=True))
        return (*refresh(search_text, sort_by), gr.Timer(active=False))

    timer.tick(poll, inputs=[search, sort], outputs=[*refreshed, timer], **quiet)
    for trigger in (search.change, sort.change):
        trigger(lambda s, o: service.table(s, o), inputs=[search, sort], outputs=[table], **quiet)

    def ask_to_confirm(name):
        if not name:
            gr.Warning("Choose a source file to remove first.")
            return gr.skip(), gr.skip(), gr.skip()
        count = library.sources(service.papers()).get(name, 0)
        return (gr.update(visible=False), gr.update(value=f"Remove {count} papers of {name}", visible=True),
                gr.update(visible=True))

    remove.click(ask_to_confirm, inputs=[source], outputs=[remove, confirm, cancel], **quiet)
    hide = (gr.update(visible=True), gr.update(visible=False), gr.update(visible=False))
    cancel.click(lambda: hide, outputs=[remove, confirm, cancel], **quiet)

    def confirmed(name, search_text, sort_by):
        try:
            gr.Info(service.remove(name))
        except UserError as e:
            gr.Warning(str(e))
        return (*hide, *refresh(search_text, sort_by))

    confirm.click(confirmed, inputs=[source, search, sort], outputs=[remove, confirm, cancel, *refreshed], **quiet)
    return LibraryTab(topic_list, lambda: refresh(), refreshed)
