// Starts GraphiQL on the endpoints named by the page; subscriptions go over graphql-ws on the
// same path. A token typed into the Headers pane as {"Authorization": "Bearer …"} is sent with
// every HTTP request.
(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var http = new URL(root.dataset.endpoint, window.location.origin);
  var ws = new URL(root.dataset.subscriptionEndpoint, window.location.origin);
  ws.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  var fetcher = GraphiQL.createFetcher({ url: http.href, subscriptionUrl: ws.href });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true })
  );
})();
