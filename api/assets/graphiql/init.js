// Starts GraphiQL against this server. Put your token in the Headers tab:
// {"Authorization": "Bearer <accessToken from signIn>"}
(function () {
  var defaultQuery = [
    "# Welcome to Tenantry.",
    "# 1. Run signIn below (the demo logins are printed by `cargo run`).",
    "# 2. Copy accessToken into Headers: {\"Authorization\": \"Bearer <token>\"}",
    "# 3. Run the query `Projects`, or the subscription `TaskEvents` and then",
    "#    change a task from another tab.",
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
    "subscription TaskEvents {",
    "  taskEvents { kind task { id title status } }",
    "}",
    "",
  ].join("\n");
  // Subscriptions go over graphql-ws (graphql-transport-ws), which signs in
  // with connection_init rather than a header: the Authorization header of
  // the operation being run is handed to it. The socket is opened for the
  // first subscription and closed after the last, so a new token takes
  // effect with the next one.
  var authorization = null;
  var wsClient = graphqlWs.createClient({
    url: window.location.origin.replace(/^http/, "ws") + "/graphql",
    lazy: true,
    connectionParams: function () {
      return authorization ? { authorization: authorization } : {};
    },
  });
  var both = GraphiQL.createFetcher({
    url: window.location.origin + "/graphql",
    wsClient: wsClient,
  });
  var fetcher = function (params, opts) {
    var headers = (opts && opts.headers) || {};
    authorization = headers.Authorization || headers.authorization || null;
    return both(params, opts);
  };
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
