/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type CreateTaskInput = {
  /** A member of the current tenant. */
  assigneeId?: string | number | null | undefined;
  description?: string | null | undefined;
  dueDate?: string | null | undefined;
  /** 0 (none, the default) to 4 (urgent). */
  priority?: number | null | undefined;
  projectId: string | number;
  /** Defaults to TODO. */
  status?: TaskStatus | null | undefined;
  title: string;
};

export type SignInInput = {
  email: string;
  password: string;
  /** The tenant to sign in to; the user's first tenant when absent. */
  tenantSlug?: string | null | undefined;
};

export type TaskEventKind =
  | 'CREATED'
  | 'DELETED'
  | 'UPDATED';

export type TaskStatus =
  | 'DONE'
  | 'IN_PROGRESS'
  | 'TODO';

/** Absent fields stay as they are; `null` clears `assigneeId` and `dueDate`. */
export type UpdateTaskInput = {
  assigneeId?: string | number | null | undefined;
  description?: string | null | undefined;
  dueDate?: string | null | undefined;
  priority?: number | null | undefined;
  status?: TaskStatus | null | undefined;
  title?: string | null | undefined;
};

export type SessionFieldsFragment = { accessToken: string, refreshToken: string, expiresIn: number, user: { email: string, displayName: string }, tenant: { id: string, name: string } };

export type SignInMutationVariables = Exact<{
  input: SignInInput;
}>;


export type SignInMutation = { signIn: { accessToken: string, refreshToken: string, expiresIn: number, user: { email: string, displayName: string }, tenant: { id: string, name: string } } };

export type RefreshSessionMutationVariables = Exact<{
  refreshToken: string;
}>;


export type RefreshSessionMutation = { refreshSession: { accessToken: string, refreshToken: string, expiresIn: number, user: { email: string, displayName: string }, tenant: { id: string, name: string } } };

export type SwitchTenantMutationVariables = Exact<{
  tenantId: string | number;
}>;


export type SwitchTenantMutation = { switchTenant: { accessToken: string, refreshToken: string, expiresIn: number, user: { email: string, displayName: string }, tenant: { id: string, name: string } } };

export type MyTenantsQueryVariables = Exact<{ [key: string]: never; }>;


export type MyTenantsQuery = { myTenants: Array<{ role: string, tenant: { id: string, name: string } }> };

export type ProjectsQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
}>;


export type ProjectsQuery = { projects: { nodes: Array<{ id: string, name: string }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type TaskFieldsFragment = { id: string, title: string, status: TaskStatus, version: number };

export type TasksQueryVariables = Exact<{
  projectId: string | number;
  first: number;
  after?: string | null | undefined;
}>;


export type TasksQuery = { tasks: { totalCount: number, nodes: Array<{ id: string, title: string, status: TaskStatus, version: number }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type TaskQueryVariables = Exact<{
  id: string | number;
}>;


export type TaskQuery = { task: { id: string, title: string, status: TaskStatus, version: number } | null };

export type CreateTaskMutationVariables = Exact<{
  input: CreateTaskInput;
  idempotencyKey?: string | null | undefined;
}>;


export type CreateTaskMutation = { createTask: { id: string, title: string, status: TaskStatus, version: number } };

export type UpdateTaskMutationVariables = Exact<{
  id: string | number;
  input: UpdateTaskInput;
  expectedVersion: number;
}>;


export type UpdateTaskMutation = { updateTask: { id: string, title: string, status: TaskStatus, version: number } };

export type TaskEventsSubscriptionVariables = Exact<{
  projectId?: string | number | null | undefined;
}>;


export type TaskEventsSubscription = { taskEvents: { kind: TaskEventKind, task: { id: string, title: string, status: TaskStatus, version: number } } };

export type SignOutMutationVariables = Exact<{ [key: string]: never; }>;


export type SignOutMutation = { signOut: boolean };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const SessionFieldsFragmentDoc = new TypedDocumentString(`
    fragment SessionFields on AuthPayload {
  accessToken
  refreshToken
  expiresIn
  user {
    email
    displayName
  }
  tenant {
    id
    name
  }
}
    `, {"fragmentName":"SessionFields"}) as unknown as TypedDocumentString<SessionFieldsFragment, unknown>;
export const TaskFieldsFragmentDoc = new TypedDocumentString(`
    fragment TaskFields on Task {
  id
  title
  status
  version
}
    `, {"fragmentName":"TaskFields"}) as unknown as TypedDocumentString<TaskFieldsFragment, unknown>;
export const SignInDocument = new TypedDocumentString(`
    mutation SignIn($input: SignInInput!) {
  signIn(input: $input) {
    ...SessionFields
  }
}
    fragment SessionFields on AuthPayload {
  accessToken
  refreshToken
  expiresIn
  user {
    email
    displayName
  }
  tenant {
    id
    name
  }
}`) as unknown as TypedDocumentString<SignInMutation, SignInMutationVariables>;
export const RefreshSessionDocument = new TypedDocumentString(`
    mutation RefreshSession($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) {
    ...SessionFields
  }
}
    fragment SessionFields on AuthPayload {
  accessToken
  refreshToken
  expiresIn
  user {
    email
    displayName
  }
  tenant {
    id
    name
  }
}`) as unknown as TypedDocumentString<RefreshSessionMutation, RefreshSessionMutationVariables>;
export const SwitchTenantDocument = new TypedDocumentString(`
    mutation SwitchTenant($tenantId: ID!) {
  switchTenant(tenantId: $tenantId) {
    ...SessionFields
  }
}
    fragment SessionFields on AuthPayload {
  accessToken
  refreshToken
  expiresIn
  user {
    email
    displayName
  }
  tenant {
    id
    name
  }
}`) as unknown as TypedDocumentString<SwitchTenantMutation, SwitchTenantMutationVariables>;
export const MyTenantsDocument = new TypedDocumentString(`
    query MyTenants {
  myTenants {
    role
    tenant {
      id
      name
    }
  }
}
    `) as unknown as TypedDocumentString<MyTenantsQuery, MyTenantsQueryVariables>;
export const ProjectsDocument = new TypedDocumentString(`
    query Projects($first: Int!, $after: String) {
  projects(first: $first, after: $after) {
    nodes {
      id
      name
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<ProjectsQuery, ProjectsQueryVariables>;
export const TasksDocument = new TypedDocumentString(`
    query Tasks($projectId: ID!, $first: Int!, $after: String) {
  tasks(first: $first, after: $after, filter: {projectId: $projectId}) {
    totalCount
    nodes {
      ...TaskFields
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment TaskFields on Task {
  id
  title
  status
  version
}`) as unknown as TypedDocumentString<TasksQuery, TasksQueryVariables>;
export const TaskDocument = new TypedDocumentString(`
    query Task($id: ID!) {
  task(id: $id) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  title
  status
  version
}`) as unknown as TypedDocumentString<TaskQuery, TaskQueryVariables>;
export const CreateTaskDocument = new TypedDocumentString(`
    mutation CreateTask($input: CreateTaskInput!, $idempotencyKey: String) {
  createTask(input: $input, idempotencyKey: $idempotencyKey) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  title
  status
  version
}`) as unknown as TypedDocumentString<CreateTaskMutation, CreateTaskMutationVariables>;
export const UpdateTaskDocument = new TypedDocumentString(`
    mutation UpdateTask($id: ID!, $input: UpdateTaskInput!, $expectedVersion: Int!) {
  updateTask(id: $id, input: $input, expectedVersion: $expectedVersion) {
    ...TaskFields
  }
}
    fragment TaskFields on Task {
  id
  title
  status
  version
}`) as unknown as TypedDocumentString<UpdateTaskMutation, UpdateTaskMutationVariables>;
export const TaskEventsDocument = new TypedDocumentString(`
    subscription TaskEvents($projectId: ID) {
  taskEvents(projectId: $projectId) {
    kind
    task {
      id
      title
      status
      version
    }
  }
}
    `) as unknown as TypedDocumentString<TaskEventsSubscription, TaskEventsSubscriptionVariables>;
export const SignOutDocument = new TypedDocumentString(`
    mutation SignOut {
  signOut
}
    `) as unknown as TypedDocumentString<SignOutMutation, SignOutMutationVariables>;