-- Run after Neovim 0.7 started with the README's snippet as its init.lua (driven by tests/test_docs.py)
-- and opened a broken .gop file: waits for a client on the buffer and its diagnostics, opens a second
-- .gop file, and writes what it saw to GOP_OUT. Every wait is bounded.

local out = os.getenv("GOP_OUT")
local result = { diagnostics = {} }

local function clients(buf)
  local ids = {}
  for _, client in pairs(vim.lsp.buf_get_clients(buf)) do
    table.insert(ids, client.id)
  end
  return ids
end

local first = vim.api.nvim_get_current_buf()
result.attached = vim.wait(30000, function() return #clients(first) > 0 end, 20)
if result.attached then
  vim.wait(30000, function() return #vim.diagnostic.get(first) > 0 end, 20)
  for _, d in ipairs(vim.diagnostic.get(first)) do
    table.insert(result.diagnostics, { line = d.lnum, column = d.col, code = d.code, message = d.message })
  end
end
result.first_clients = clients(first)
vim.cmd("edit other.gop")
result.second_clients = clients(vim.api.nvim_get_current_buf())

local file = io.open(out, "w")
file:write(vim.fn.json_encode(result))
file:close()
vim.cmd("qall!")
