myapp:
  tofs:
    source_files:
      myapp-config:
        - custom.conf
        - app.conf
