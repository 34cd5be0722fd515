/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment SessionFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresIn\n    user { email displayName }\n    tenant { id name }\n  }\n": typeof types.SessionFieldsFragmentDoc,
    "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) { ...SessionFields }\n  }\n": typeof types.SignInDocument,
    "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshSession(refreshToken: $refreshToken) { ...SessionFields }\n  }\n": typeof types.RefreshSessionDocument,
    "\n  mutation SwitchTenant($tenantId: ID!) {\n    switchTenant(tenantId: $tenantId) { ...SessionFields }\n  }\n": typeof types.SwitchTenantDocument,
    "\n  query MyTenants {\n    myTenants { role tenant { id name } }\n  }\n": typeof types.MyTenantsDocument,
    "\n  query Projects($first: Int!, $after: String) {\n    projects(first: $first, after: $after) {\n      nodes { id name }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.ProjectsDocument,
    "\n  fragment TaskFields on Task { id title status version }\n": typeof types.TaskFieldsFragmentDoc,
    "\n  query Tasks($projectId: ID!, $first: Int!, $after: String) {\n    tasks(first: $first, after: $after, filter: { projectId: $projectId }) {\n      totalCount\n      nodes { ...TaskFields }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.TasksDocument,
    "\n  query Task($id: ID!) {\n    task(id: $id) { ...TaskFields }\n  }\n": typeof types.TaskDocument,
    "\n  mutation CreateTask($input: CreateTaskInput!, $idempotencyKey: String) {\n    createTask(input: $input, idempotencyKey: $idempotencyKey) { ...TaskFields }\n  }\n": typeof types.CreateTaskDocument,
    "\n  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!, $expectedVersion: Int!) {\n    updateTask(id: $id, input: $input, expectedVersion: $expectedVersion) { ...TaskFields }\n  }\n": typeof types.UpdateTaskDocument,
    "\n  subscription TaskEvents($projectId: ID) {\n    taskEvents(projectId: $projectId) {\n      kind\n      task { id title status version }\n    }\n  }\n": typeof types.TaskEventsDocument,
    "\n  mutation SignOut {\n    signOut\n  }\n": typeof types.SignOutDocument,
};
const documents: Documents = {
    "\n  fragment SessionFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresIn\n    user { email displayName }\n    tenant { id name }\n  }\n": types.SessionFieldsFragmentDoc,
    "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) { ...SessionFields }\n  }\n": types.SignInDocument,
    "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshSession(refreshToken: $refreshToken) { ...SessionFields }\n  }\n": types.RefreshSessionDocument,
    "\n  mutation SwitchTenant($tenantId: ID!) {\n    switchTenant(tenantId: $tenantId) { ...SessionFields }\n  }\n": types.SwitchTenantDocument,
    "\n  query MyTenants {\n    myTenants { role tenant { id name } }\n  }\n": types.MyTenantsDocument,
    "\n  query Projects($first: Int!, $after: String) {\n    projects(first: $first, after: $after) {\n      nodes { id name }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.ProjectsDocument,
    "\n  fragment TaskFields on Task { id title status version }\n": types.TaskFieldsFragmentDoc,
    "\n  query Tasks($projectId: ID!, $first: Int!, $after: String) {\n    tasks(first: $first, after: $after, filter: { projectId: $projectId }) {\n      totalCount\n      nodes { ...TaskFields }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.TasksDocument,
    "\n  query Task($id: ID!) {\n    task(id: $id) { ...TaskFields }\n  }\n": types.TaskDocument,
    "\n  mutation CreateTask($input: CreateTaskInput!, $idempotencyKey: String) {\n    createTask(input: $input, idempotencyKey: $idempotencyKey) { ...TaskFields }\n  }\n": types.CreateTaskDocument,
    "\n  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!, $expectedVersion: Int!) {\n    updateTask(id: $id, input: $input, expectedVersion: $expectedVersion) { ...TaskFields }\n  }\n": types.UpdateTaskDocument,
    "\n  subscription TaskEvents($projectId: ID) {\n    taskEvents(projectId: $projectId) {\n      kind\n      task { id title status version }\n    }\n  }\n": types.TaskEventsDocument,
    "\n  mutation SignOut {\n    signOut\n  }\n": types.SignOutDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment SessionFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresIn\n    user { email displayName }\n    tenant { id name }\n  }\n"): typeof import('./graphql').SessionFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) { ...SessionFields }\n  }\n"): typeof import('./graphql').SignInDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RefreshSession($refreshToken: String!) {\n    refreshSession(refreshToken: $refreshToken) { ...SessionFields }\n  }\n"): typeof import('./graphql').RefreshSessionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SwitchTenant($tenantId: ID!) {\n    switchTenant(tenantId: $tenantId) { ...SessionFields }\n  }\n"): typeof import('./graphql').SwitchTenantDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MyTenants {\n    myTenants { role tenant { id name } }\n  }\n"): typeof import('./graphql').MyTenantsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Projects($first: Int!, $after: String) {\n    projects(first: $first, after: $after) {\n      nodes { id name }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): typeof import('./graphql').ProjectsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TaskFields on Task { id title status version }\n"): typeof import('./graphql').TaskFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Tasks($projectId: ID!, $first: Int!, $after: String) {\n    tasks(first: $first, after: $after, filter: { projectId: $projectId }) {\n      totalCount\n      nodes { ...TaskFields }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): typeof import('./graphql').TasksDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Task($id: ID!) {\n    task(id: $id) { ...TaskFields }\n  }\n"): typeof import('./graphql').TaskDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateTask($input: CreateTaskInput!, $idempotencyKey: String) {\n    createTask(input: $input, idempotencyKey: $idempotencyKey) { ...TaskFields }\n  }\n"): typeof import('./graphql').CreateTaskDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!, $expectedVersion: Int!) {\n    updateTask(id: $id, input: $input, expectedVersion: $expectedVersion) { ...TaskFields }\n  }\n"): typeof import('./graphql').UpdateTaskDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TaskEvents($projectId: ID) {\n    taskEvents(projectId: $projectId) {\n      kind\n      task { id title status version }\n    }\n  }\n"): typeof import('./graphql').TaskEventsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignOut {\n    signOut\n  }\n"): typeof import('./graphql').SignOutDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
