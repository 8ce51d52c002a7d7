; Text objects for Helix: `mit`/`mat` select inside/around a network or container
; declaration, `]t`/`[t` move between them.
(network_declaration
  body: (_) @class.inside) @class.around

(container_declaration
  body: (_) @class.inside) @class.around

(comment) @comment.inside

(comment)+ @comment.around
