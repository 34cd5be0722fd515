// Starts GraphiQL against this server. After signIn (or signUp,
// switchTenant, refreshSession, acceptInvitation) returns an accessToken,
// the Headers tab is set to {"Authorization": "Bearer <accessToken>"} (other
// headers kept), so the next operations run as that member.
(function () {
  var defaultQuery = [
    "# Welcome to Tenantry.",
    "# 1. Run signIn below (the demo logins are printed by `cargo run`).",
    "# 2. Its accessToken goes into the Headers tab by itself (switchTenant too).",
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
  // The mutations whose payload carries a new access token.
  var signs = ["signIn", "signUp", "switchTenant", "refreshSession", "acceptInvitation"];
  var setHeaders = null;
  // Puts a returned access token into the Headers tab, keeping other headers.
  var adopt = function (result, headers) {
    var data = result && result.data;
    if (!data || !setHeaders) return;
    for (var i = 0; i < signs.length; i++) {
      var payload = data[signs[i]];
      if (payload && typeof payload.accessToken === "string") {
        var next = {};
        Object.keys(headers).forEach(function (k) {
          if (k.toLowerCase() !== "authorization") next[k] = headers[k];
        });
        next.Authorization = "Bearer " + payload.accessToken;
        setHeaders(JSON.stringify(next, null, 2));
        return;
      }
    }
  };
  // Looks into what the fetcher gives back: a promise, perhaps of a stream
  // of results (incremental delivery), or a result.
  var watch = function (result, headers) {
    if (result && typeof result.then === "function") {
      return result.then(function (r) {
        return watch(r, headers);
      });
    }
    if (result && typeof result[Symbol.asyncIterator] === "function") {
      return (async function* () {
        for await (var r of result) {
          adopt(r, headers);
          yield r;
        }
      })();
    }
    adopt(result, headers);
    return result;
  };
  var fetcher = function (params, opts) {
    var headers = (opts && opts.headers) || {};
    authorization = headers.Authorization || headers.authorization || null;
    return watch(both(params, opts), headers);
  };
  // GraphiQL copies its `headers` prop into the Headers tab when it changes.
  var Playground = function () {
    var state = React.useState(undefined);
    setHeaders = state[1];
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      headers: state[0],
      defaultQuery: defaultQuery,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: true,
    });
  };
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(Playground));
})();
