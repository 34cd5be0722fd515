// Starts GraphiQL against this server. Put your token in the Headers tab:
// {"Authorization": "Bearer <accessToken from signIn>"}
(function () {
  var defaultQuery = [
    "# Welcome to Tenantry.",
    "# 1. Run signIn below (the demo logins are printed by `cargo run`).",
    "# 2. Copy accessToken into Headers: {\"Authorization\": \"Bearer <token>\"}",
    "# 3. Run the query `Projects`.",
    "",
    "mutation SignIn {",
    "  signIn(input: {email: \"owner@demo.test\", password: \"demo-password\"}) {",
    "    accessToken",
    "    tenant { slug name }",
    "  }",
    "}",
    "",
    "query Projects {",
    "  projects(first: 5) {",
    "    totalCount",
    "    edges { node { id name tasks(first: 3) { edges { node { title status assignee { displayName } } } } } }",
    "  }",
    "}",
    "",
  ].join("\n");
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + "/graphql" });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: true,
    })
  );
})();
