nginx:
  worker_processes: 4
  server_name: example.org
