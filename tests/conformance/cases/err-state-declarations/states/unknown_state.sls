nosuch:
  nosuchmodule.present
