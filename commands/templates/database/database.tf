# Requested by {{ actor.ref }} through Switchboard run {{ run.id }} ({{ template.name }} {{ template.version }}).
module "{{ params.service.name | replace('-', '_') }}_db" {
  source  = "./modules/database"
  name    = "{{ params.service.name }}"
  engine  = "{{ params.engine }}"
  size    = "{{ params.size }}"
  owner   = "{{ params.service.spec.owner }}"
}
