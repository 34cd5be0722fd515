// The page: sign in, pick a tenant, page through a project's tasks, create and
// edit them, and watch other tabs' changes arrive. Framework-free on purpose:
// what to copy is api.ts and the generated types; the DOM code is the demo.
import { Api, ApiError, Session } from "./api";
import type { TaskFieldsFragment, TaskStatus } from "./gql/graphql";
import {
  CreateTask,
  MyTenants,
  Projects,
  SignIn,
  SignOut,
  SwitchTenant,
  Task,
  TaskEvents,
  Tasks,
  UpdateTask,
} from "./operations";

const PAGE_SIZE = 5;
const STATUSES: TaskStatus[] = ["TODO", "IN_PROGRESS", "DONE"];

const api = new Api(new Session());
const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  who: byId<HTMLSpanElement>("who"),
  signOut: byId<HTMLButtonElement>("sign-out"),
  error: byId<HTMLParagraphElement>("error"),
  signIn: byId<HTMLFormElement>("sign-in"),
  workspace: byId<HTMLElement>("workspace"),
  tenant: byId<HTMLSelectElement>("tenant"),
  projects: byId<HTMLElement>("projects"),
  board: byId<HTMLElement>("board"),
  projectName: byId<HTMLHeadingElement>("project-name"),
  total: byId<HTMLParagraphElement>("total"),
  newTask: byId<HTMLFormElement>("new-task"),
  tasks: byId<HTMLUListElement>("tasks"),
  previous: byId<HTMLButtonElement>("previous"),
  next: byId<HTMLButtonElement>("next"),
  activity: byId<HTMLOListElement>("activity"),
};

/** What the board shows: one project, one page of its tasks. */
const board = {
  project: null as { id: string; name: string } | null,
  // The `after` cursor of every page on the way here; the last is this page's.
  cursors: [null] as (string | null)[],
  endCursor: null as string | null,
  rows: [] as TaskFieldsFragment[],
  // Open editors survive re-renders: each keeps the version it was opened on.
  editors: new Map<string, HTMLLIElement>(),
  unsubscribe: null as (() => void) | null,
};

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function showError(e: unknown): void {
  ui.error.textContent =
    e instanceof ApiError
      ? `${e.code}: ${e.message}${e.retryAfter ? ` (retry in ${e.retryAfter} s)` : ""}`
      : String(e);
  ui.error.hidden = false;
}

/** Runs a user action, showing its refusal instead of losing it. */
function act(action: () => Promise<void>): void {
  ui.error.hidden = true;
  action().catch(showError);
}

async function enter(): Promise<void> {
  const session = api.session.current;
  ui.signIn.hidden = !!session;
  ui.workspace.hidden = !session;
  ui.signOut.hidden = !session;
  closeProject();
  if (!session) {
    ui.who.textContent = "";
    return;
  }
  ui.who.textContent = `${session.user.email} in ${session.tenant.name}`;
  const { myTenants } = await api.request(MyTenants);
  ui.tenant.replaceChildren(
    ...myTenants.map(({ role, tenant }) =>
      el("option", { value: tenant.id, selected: tenant.id === session.tenant.id }, `${tenant.name} (${role})`),
    ),
  );
  const { projects } = await api.request(Projects, { first: 50 });
  ui.projects.replaceChildren(
    ...projects.nodes.map((p) => {
      const button = el("button", { type: "button" }, p.name);
      button.onclick = () => act(() => openProject(p));
      return button;
    }),
  );
}

function closeProject(): void {
  board.unsubscribe?.();
  board.unsubscribe = null;
  board.project = null;
  board.editors.clear();
  ui.board.hidden = true;
}

async function openProject(project: { id: string; name: string }): Promise<void> {
  closeProject();
  board.project = project;
  board.cursors = [null];
  for (const b of ui.projects.querySelectorAll("button")) {
    b.setAttribute("aria-current", String(b.textContent === project.name));
  }
  ui.projectName.textContent = project.name;
  ui.activity.replaceChildren();
  ui.board.hidden = false;
  board.unsubscribe = api.subscribe(TaskEvents, { projectId: project.id }, ({ taskEvents }) => {
    const { kind, task } = taskEvents;
    ui.activity.prepend(el("li", {}, `${kind}: ${task.title} (version ${task.version})`));
    const shown = board.rows.findIndex((r) => r.id === task.id);
    if (shown >= 0) {
      // Events can overtake a page load; never go back to an older version.
      if (board.rows[shown]!.version < task.version) board.rows[shown] = task;
    } else if (kind === "CREATED" && board.cursors.length === 1) {
      board.rows.unshift(task);
    }
    render();
  }, showError);
  await loadPage();
}

async function loadPage(): Promise<void> {
  const project = board.project;
  if (!project) return;
  const after = board.cursors[board.cursors.length - 1] ?? null;
  const { tasks } = await api.request(Tasks, { projectId: project.id, first: PAGE_SIZE, after });
  board.rows = tasks.nodes;
  board.endCursor = tasks.pageInfo.endCursor;
  ui.total.textContent = `${tasks.totalCount} tasks · page ${board.cursors.length}`;
  ui.previous.disabled = board.cursors.length === 1;
  ui.next.disabled = !tasks.pageInfo.hasNextPage;
  render();
}

function render(): void {
  ui.tasks.replaceChildren(...board.rows.map((t) => board.editors.get(t.id) ?? row(t)));
}

function row(task: TaskFieldsFragment): HTMLLIElement {
  const edit = el("button", { type: "button" }, "Edit");
  edit.onclick = () => {
    board.editors.set(task.id, editor(task));
    render();
  };
  return item(
    task.id,
    el("span", { className: "title" }, task.title),
    el("span", { className: "meta" }, `${task.status} · version ${task.version}`),
    edit,
  );
}

/** An edit form: it saves against the version it was opened on, so a change
 * made meanwhile elsewhere is refused with CONFLICT instead of overwritten. */
function editor(task: TaskFieldsFragment): HTMLLIElement {
  let expectedVersion = task.version;
  const title = el("input", { name: "title", value: task.title, required: true });
  title.setAttribute("aria-label", "Title");
  const status = el(
    "select",
    { name: "status" },
    ...STATUSES.map((s) => el("option", { value: s, selected: s === task.status }, s)),
  );
  const note = el("span", { className: "note" });
  const cancel = el("button", { type: "button" }, "Cancel");
  const form = el("form", { className: "editor" }, title, status, el("button", { type: "submit" }, "Save"), cancel, note);
  const close = () => {
    board.editors.delete(task.id);
    render();
  };
  cancel.onclick = close;
  form.onsubmit = (event) => {
    event.preventDefault();
    act(async () => {
      try {
        const { updateTask } = await api.request(UpdateTask, {
          id: task.id,
          input: { title: title.value, status: status.value as TaskStatus },
          expectedVersion,
        });
        const i = board.rows.findIndex((r) => r.id === task.id);
        if (i >= 0 && board.rows[i]!.version < updateTask.version) board.rows[i] = updateTask;
        close();
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== "CONFLICT") throw e;
        // Show what it became; saving again overwrites it knowingly.
        const { task: now } = await api.request(Task, { id: task.id });
        if (!now) throw new ApiError("NOT_FOUND", "the task was deleted meanwhile");
        expectedVersion = now.version;
        note.textContent =
          `CONFLICT: changed to “${now.title}” (${now.status}, version ${now.version}) ` +
          `since you opened it. Save again to overwrite.`;
      }
    });
  };
  return item(task.id, form);
}

/** A task's line in the list, found by its id. */
function item(id: string, ...children: Node[]): HTMLLIElement {
  const li = el("li", {}, ...children);
  li.dataset.id = id;
  return li;
}

ui.signIn.onsubmit = (event) => {
  event.preventDefault();
  const form = new FormData(ui.signIn);
  act(async () => {
    const { signIn } = await api.request(SignIn, {
      input: { email: String(form.get("email")), password: String(form.get("password")) },
    });
    api.use(signIn);
    await enter();
  });
};

ui.signOut.onclick = () =>
  act(async () => {
    await api.request(SignOut).catch(() => {});
    api.use(null);
    await enter();
  });

ui.tenant.onchange = () =>
  act(async () => {
    const { switchTenant } = await api.request(SwitchTenant, { tenantId: ui.tenant.value });
    api.use(switchTenant);
    await enter();
  });

ui.newTask.onsubmit = (event) => {
  event.preventDefault();
  const project = board.project;
  if (!project) return;
  const title = new FormData(ui.newTask).get("title");
  // One key per submission: a retried request cannot create the task twice.
  const idempotencyKey = crypto.randomUUID();
  act(async () => {
    const { createTask } = await api.request(CreateTask, {
      input: { projectId: project.id, title: String(title) },
      idempotencyKey,
    });
    ui.newTask.reset();
    // The subscription may have shown it already.
    if (board.cursors.length === 1 && !board.rows.some((r) => r.id === createTask.id)) {
      board.rows.unshift(createTask);
      render();
    }
  });
};

ui.next.onclick = () =>
  act(async () => {
    board.cursors.push(board.endCursor);
    await loadPage();
  });

ui.previous.onclick = () =>
  act(async () => {
    board.cursors.pop();
    await loadPage();
  });

// Back from a reconnection: events sent while away are not replayed.
api.onReconnected = () => act(loadPage);

act(enter);
