// Every operation the app sends. graphql-codegen reads these and writes their
// types to src/gql/: each document below is typed by its variables and result.
import { graphql } from "./gql";

export const SessionFields = graphql(`
  fragment SessionFields on AuthPayload {
    accessToken
    refreshToken
    expiresIn
    user { email displayName }
    tenant { id name }
  }
`);

export const SignIn = graphql(`
  mutation SignIn($input: SignInInput!) {
    signIn(input: $input) { ...SessionFields }
  }
`);

export const RefreshSession = graphql(`
  mutation RefreshSession($refreshToken: String!) {
    refreshSession(refreshToken: $refreshToken) { ...SessionFields }
  }
`);

export const SwitchTenant = graphql(`
  mutation SwitchTenant($tenantId: ID!) {
    switchTenant(tenantId: $tenantId) { ...SessionFields }
  }
`);

export const MyTenants = graphql(`
  query MyTenants {
    myTenants { role tenant { id name } }
  }
`);

export const Projects = graphql(`
  query Projects($first: Int!, $after: String) {
    projects(first: $first, after: $after) {
      nodes { id name }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const TaskFields = graphql(`
  fragment TaskFields on Task { id title status version }
`);

export const Tasks = graphql(`
  query Tasks($projectId: ID!, $first: Int!, $after: String) {
    tasks(first: $first, after: $after, filter: { projectId: $projectId }) {
      totalCount
      nodes { ...TaskFields }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const Task = graphql(`
  query Task($id: ID!) {
    task(id: $id) { ...TaskFields }
  }
`);

export const CreateTask = graphql(`
  mutation CreateTask($input: CreateTaskInput!, $idempotencyKey: String) {
    createTask(input: $input, idempotencyKey: $idempotencyKey) { ...TaskFields }
  }
`);

export const UpdateTask = graphql(`
  mutation UpdateTask($id: ID!, $input: UpdateTaskInput!, $expectedVersion: Int!) {
    updateTask(id: $id, input: $input, expectedVersion: $expectedVersion) { ...TaskFields }
  }
`);

export const TaskEvents = graphql(`
  subscription TaskEvents($projectId: ID) {
    taskEvents(projectId: $projectId) {
      kind
      task { id title status version }
    }
  }
`);

export const SignOut = graphql(`
  mutation SignOut {
    signOut
  }
`);
