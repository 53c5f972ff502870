"""`inferplan report`: one self-contained HTML page (plotly.js inline, no network) from
the results the other commands produce. One module per section (`estimate_section`,
`search_section`, `sim_section`), the page around them (`page`, `template.html`), and
the few HTML pieces they share (`markup`). Renders; computes nothing."""
