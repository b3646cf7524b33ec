-- Headless Neovim 0.7 session against `gopc lsp` (driven by tests/test_nvim.py).
-- Environment: GOP_ROOT (a copy of examples/shop), GOP_OUT (JSON file to write), GOPC (the gopc executable).
-- Opens apps.gop, records the diagnostics, a hover and a completion, then breaks `replicas` and records
-- the diagnostics again. Every wait is bounded; the results (or the step that timed out) go to GOP_OUT.

local root = os.getenv("GOP_ROOT")
local out = os.getenv("GOP_OUT")
local gopc = os.getenv("GOPC")
local result = { steps = {} }
local published = {}

local function finish()
  local file = io.open(out, "w")
  file:write(vim.fn.json_encode(result))
  file:close()
  vim.cmd("qall!")
end

local function step(name, ok)
  table.insert(result.steps, name)
  if not ok then
    result.failed = name
    finish()
  end
end

local function find(buf, needle)
  for index, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    local column = line:find(needle, 1, true)
    if column then
      return index - 1, column - 1
    end
  end
  error("not found: " .. needle)
end

vim.cmd("edit " .. root .. "/apps.gop")
local buf = vim.api.nvim_get_current_buf()
local uri = vim.uri_from_bufnr(buf)

local client_id = vim.lsp.start_client({
  name = "gopc",
  cmd = { gopc, "lsp" },
  root_dir = root,
  workspace_folders = { { uri = vim.uri_from_fname(root), name = "shop" } },
  handlers = {
    ["textDocument/publishDiagnostics"] = function(err, params, ctx, config)
      published[params.uri] = params
      vim.lsp.diagnostic.on_publish_diagnostics(err, params, ctx, config)
    end,
  },
})
step("start", client_id ~= nil)
step("attach", vim.lsp.buf_attach_client(buf, client_id))
local client = vim.lsp.get_client_by_id(client_id)

step("first diagnostics", vim.wait(30000, function() return published[uri] ~= nil end, 20))
result.initial = published[uri].diagnostics

local line, column = find(buf, "replicas = 3")
local position = { textDocument = { uri = uri }, position = { line = line, character = column + 2 } }
local hover = client.request_sync("textDocument/hover", position, 10000, buf)
step("hover", hover ~= nil and hover.result ~= nil)
result.hover = hover.result.contents.value

line, column = find(buf, 'repository = "ghcr.io/acme/checkout"')
local completion = client.request_sync("textDocument/completion",
  { textDocument = { uri = uri }, position = { line = line, character = column } }, 10000, buf)
step("completion", completion ~= nil and completion.result ~= nil)
result.completion = {}
for _, item in ipairs(completion.result.items or completion.result) do
  table.insert(result.completion, item.label)
end

line = find(buf, "replicas = 3")
published[uri] = nil
vim.api.nvim_buf_set_lines(buf, line, line + 1, false, { '  replicas = "three"' })
step("diagnostics after the edit", vim.wait(30000, function()
  return published[uri] ~= nil and #published[uri].diagnostics > 0
end, 20))
result.after = published[uri].diagnostics
result.shown = #vim.diagnostic.get(buf)
result.text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"

client.stop()
finish()
